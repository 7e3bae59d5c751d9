// Compiling lanes into flat rules and evaluating them per request.
//
// Match() must not allocate and should cost well under a microsecond for
// tens of rules, so: every header/cookie/query name a rule uses is interned
// at compile time, and a request resolves each name at most once, into a
// fixed array on the stack; conditions inside a clause run cheapest first;
// regexes are RE2 (linear time, thread-safe when const).
//
// Rules indexed by value: most clauses have a condition that can only hold
// for a known set of values (exact, in) or a known prefix (prefix, and a
// regex whose matches all share a literal start). Those "guards" are grouped
// by the value they read; a request reads each such value once, looks it up
// among its group's guards, and only clauses whose guard holds (or that have
// none) are evaluated. A request that matches nothing then costs one pass
// over the values the rules read instead of a pass over every rule.
#include "lane/entrance.h"

#include <re2/re2.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include "lane/carried.h"
#include "lane/ip_match.h"
#include "lane/request_keys.h"

namespace graymesh::lane {

using config::StringMatch;
using Op = config::StringMatch::Op;

namespace {

using detail::KeyTable;
using detail::Source;

constexpr uint32_t kNoKey = UINT32_MAX;

struct Condition {
  Source source = Source::kPath;
  uint32_t key = 0;  // into Impl::keys, for kHeader/kCookie/kQuery/kBaggage
  // The carried baggage member read when the request lacks `key` itself.
  uint32_t carried_key = kNoKey;
  Op op = Op::kExact;
  std::string value;
  std::vector<std::string> values;  // kIn, sorted for binary search
  double min = 0, max = 0;
  std::unique_ptr<RE2> re;
  // Every full match lies in [re_min, re_max] (RE2::PossibleMatchRange): a
  // value outside is rejected without running the regex, which is most of
  // the non-matching values for the usual "id-[0-9]+"-style patterns.
  bool re_has_range = false;
  std::string re_min, re_max;
  std::vector<detail::IpNet> nets;  // sourceAddress exact/in
};

struct Clause {
  std::vector<Condition> conditions;
  int percent = -1;
  Source sticky = Source::kClient;
  uint32_t sticky_key = 0;
  uint32_t sticky_carried = kNoKey;
};

struct Rule {
  std::string tag;
  int priority = 0;
  std::vector<Clause> clauses;
  uint32_t first_clause = 0;  // index of clauses[0] among all clauses (Prefilter bits)
};

// Guards of one value (a header, cookie, query parameter, baggage member or
// the path): exact values sorted for binary search, and prefixes.
struct GuardGroup {
  Source source = Source::kPath;
  uint32_t key = 0;
  uint32_t carried_key = kNoKey;
  std::vector<std::pair<std::string, uint32_t>> exact;   // (value, clause), sorted
  std::vector<std::pair<std::string, uint32_t>> prefix;  // (prefix, clause)
  // Bit Shape(v) of every exact value: a request value whose bit is clear
  // equals none of them, and skips the binary search.
  uint64_t exact_shapes = 0;
};

// Length and last byte, folded into 0..63.
int Shape(std::string_view v) {
  const unsigned last = v.empty() ? 0u : static_cast<unsigned char>(v.back());
  return static_cast<int>((v.size() * 31 + last) % 64);
}

// Which clauses may hold, as a bitset over all clauses. Only built for rule
// sets of at most kMaxClauses clauses (it lives on the stack).
struct Prefilter {
  static constexpr uint32_t kMaxClauses = 512;
  static constexpr uint32_t kWords = kMaxClauses / 64;
  bool enabled = false;
  uint32_t words = 0;                  // words in use
  uint64_t unguarded[kWords] = {};     // clauses without a guard: always evaluated
  std::vector<GuardGroup> groups;
  // Clause id -> (rule, clause in it); ids follow priority order, so walking
  // the set bits upwards visits candidates in the order Match must.
  std::vector<std::pair<uint32_t, uint32_t>> clause_at;
};

// Cheap checks first, so that a clause that fails on a header value never
// pays for its regex.
int Cost(Op op) {
  switch (op) {
    case Op::kPresent:
    case Op::kAbsent:
    case Op::kExact:
    case Op::kPrefix:
      return 0;
    case Op::kIn:
      return 1;
    case Op::kRange:
      return 2;
    case Op::kRegex:
      return 3;
  }
  return 3;
}

// The whole value must be a finite number: "150" and "1.5e2" are, "150abc"
// and "" are not (and then a range does not match).
bool ParseNumber(std::string_view s, double* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(*out);
}

std::string ToLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

[[noreturn]] void Invalid(const config::Lane& lane, const std::string& what) {
  throw std::invalid_argument("lane \"" + lane.name + "\": " + what);
}

Condition CompileCondition(const config::Lane& lane, const StringMatch& m, Source source,
                           uint32_t key) {
  Condition c;
  c.source = source;
  c.key = key;
  c.op = m.op;
  c.value = m.value;
  c.min = m.min;
  c.max = m.max;
  if (m.op == Op::kIn) {
    c.values = m.values;
    std::sort(c.values.begin(), c.values.end());
  }
  if (m.op == Op::kRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    c.re = std::make_unique<RE2>(m.value, options);
    if (!c.re->ok()) Invalid(lane, "invalid regex \"" + m.value + "\": " + c.re->error());
    c.re_has_range = c.re->PossibleMatchRange(&c.re_min, &c.re_max, 16);
  }
  // sourceAddress exact/in compare addresses, not text ("::1" == "0::1").
  if (source == Source::kSourceAddress && (m.op == Op::kExact || m.op == Op::kIn)) {
    const std::vector<std::string> texts = m.op == Op::kIn ? m.values : std::vector{m.value};
    for (const std::string& t : texts) {
      detail::IpNet net;
      if (!detail::ParseIpNet(t, &net)) Invalid(lane, "invalid IP address or CIDR \"" + t + "\"");
      c.nets.push_back(net);
    }
  }
  return c;
}

uint32_t CarriedKey(KeyTable& keys, Source source, const std::string& name) {
  const CarriedKind kind = source == Source::kHeader   ? CarriedKind::kHeader
                           : source == Source::kCookie ? CarriedKind::kCookie
                                                       : CarriedKind::kQuery;
  return keys.Intern(Source::kBaggage, CarriedMemberKey(kind, name));
}

Clause CompileClause(const config::Lane& lane, const config::MatchClause& mc, KeyTable& keys) {
  Clause c;
  const std::pair<const std::vector<std::pair<std::string, StringMatch>>*, Source> named[] = {
      {&mc.headers, Source::kHeader},
      {&mc.cookies, Source::kCookie},
      {&mc.query, Source::kQuery},
  };
  for (const auto& [list, source] : named) {
    for (const auto& [raw, m] : *list) {
      const std::string name = source == Source::kHeader ? ToLower(raw) : raw;
      Condition cond = CompileCondition(lane, m, source, keys.Intern(source, name));
      cond.carried_key = CarriedKey(keys, source, name);
      c.conditions.push_back(std::move(cond));
    }
  }
  for (const auto& [name, m] : mc.baggage) {
    const uint32_t key = keys.Intern(Source::kBaggage, name);
    c.conditions.push_back(CompileCondition(lane, m, Source::kBaggage, key));
  }
  const std::pair<const std::vector<StringMatch>*, Source> singles[] = {
      {&mc.path, Source::kPath},
      {&mc.method, Source::kMethod},
      {&mc.source_service, Source::kSourceService},
      {&mc.source_address, Source::kSourceAddress},
  };
  for (const auto& [list, source] : singles) {
    for (const StringMatch& m : *list) c.conditions.push_back(CompileCondition(lane, m, source, 0));
  }
  std::stable_sort(c.conditions.begin(), c.conditions.end(),
                   [](const Condition& a, const Condition& b) { return Cost(a.op) < Cost(b.op); });

  if (mc.percent > 100) Invalid(lane, "percent must be 0..100");
  c.percent = mc.percent;
  if (c.percent >= 0 && mc.sticky_on == "trace") {
    c.sticky = Source::kTrace;
  } else if (c.percent >= 0 && mc.sticky_on != "client") {
    const size_t colon = mc.sticky_on.find(':');
    const std::string kind = mc.sticky_on.substr(0, colon);
    const std::string name = colon == std::string::npos ? "" : mc.sticky_on.substr(colon + 1);
    if (name.empty()) Invalid(lane, "invalid stickyOn \"" + mc.sticky_on + "\"");
    if (kind == "header") {
      c.sticky = Source::kHeader;
      c.sticky_key = keys.Intern(Source::kHeader, ToLower(name));
      c.sticky_carried = CarriedKey(keys, Source::kHeader, ToLower(name));
    } else if (kind == "cookie" || kind == "query") {
      c.sticky = kind == "cookie" ? Source::kCookie : Source::kQuery;
      c.sticky_key = keys.Intern(c.sticky, name);
      c.sticky_carried = CarriedKey(keys, c.sticky, name);
    } else {
      Invalid(lane, "invalid stickyOn \"" + mc.sticky_on + "\"");
    }
  }
  return c;
}

// Per-Match state, on the stack.
class Context {
 public:
  Context(const RequestView& rq, const KeyTable& keys) : rq_(rq), keys_(keys, rq) {}

  // The value a condition or sticky key looks at; false when absent (an
  // empty path, method, source service or address counts as absent).
  // `carried`: the baggage member to read when the request lacks the key.
  bool Value(Source source, uint32_t key, uint32_t carried, std::string_view* out) {
    switch (source) {
      case Source::kHeader:
      case Source::kCookie:
      case Source::kQuery:
        if (keys_.Get(key, out)) return true;
        return carried != kNoKey && !(rq_.carried.empty() && rq_.baggage.empty()) &&
               keys_.Get(carried, out);
      case Source::kBaggage:
        return keys_.Get(key, out);
      case Source::kPath:
        *out = rq_.path;
        break;
      case Source::kMethod:
        *out = rq_.method;
        break;
      case Source::kSourceService:
        *out = rq_.source_service;
        break;
      case Source::kSourceAddress:
      case Source::kClient:
        *out = rq_.client_address;
        break;
      case Source::kTrace:
        *out = rq_.trace_id;
        break;
    }
    return !out->empty();
  }

  bool Client(detail::IpAddr* out) {
    if (!client_parsed_) {
      client_parsed_ = true;
      client_ok_ = detail::ParseIp(rq_.client_address, &client_);
    }
    *out = client_;
    return client_ok_;
  }

 private:
  const RequestView& rq_;
  detail::KeyResolver keys_;
  bool client_parsed_ = false;
  bool client_ok_ = false;
  detail::IpAddr client_;
};

// Byte comparisons inlined: rule values and request values are short, and
// libc's memcmp (through the PLT and its size dispatch) was the largest
// single cost of a no-match evaluation.
int Compare(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i])
      return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

bool Equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Near misses ("pre-none-" against "pre-1-", "id-2-x" against "id-12-")
// mostly differ at the prefix's end: its last byte is compared first.
bool StartsWith(std::string_view v, std::string_view prefix) {
  if (v.size() < prefix.size()) return false;
  if (prefix.empty()) return true;
  if (v[prefix.size() - 1] != prefix.back()) return false;
  return Equal(v.substr(0, prefix.size() - 1), prefix.substr(0, prefix.size() - 1));
}

bool Holds(const Condition& c, Context& ctx) {
  std::string_view v;
  const bool found = ctx.Value(c.source, c.key, c.carried_key, &v);
  if (c.op == Op::kPresent) return found;
  if (c.op == Op::kAbsent) return !found;
  if (!found) return false;
  if (!c.nets.empty()) {
    detail::IpAddr ip;
    if (!ctx.Client(&ip)) return false;
    return std::any_of(c.nets.begin(), c.nets.end(),
                       [&](const detail::IpNet& net) { return detail::Contains(net, ip); });
  }
  switch (c.op) {
    case Op::kExact:
      return Equal(v, c.value);
    case Op::kPrefix:
      return StartsWith(v, c.value);
    // Full match, as Envoy's safe_regex: "^...$" is implied, so "gray" does
    // not match "grayish"; write ".*gray.*" for "contains".
    case Op::kRegex:
      if (c.re_has_range && (Compare(v, c.re_min) < 0 || Compare(v, c.re_max) > 0)) return false;
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *c.re);
    case Op::kIn:
      return std::binary_search(
          c.values.begin(), c.values.end(), v,
          [](std::string_view a, std::string_view b) { return Compare(a, b) < 0; });
    case Op::kRange: {
      double x = 0;
      return ParseNumber(v, &x) && c.min <= x && x <= c.max;
    }
    default:
      return false;
  }
}

// A missing or empty sticky key never falls into the share: requests that
// carry no user id stay in base rather than landing in a lane by chance.
bool InShare(const Clause& c, Context& ctx) {
  if (c.percent < 0) return true;
  std::string_view key;
  if (!ctx.Value(c.sticky, c.sticky_key, c.sticky_carried, &key) || key.empty()) return false;
  return StickyBucket(key) < static_cast<uint32_t>(c.percent);
}

bool Applies(const config::Lane& lane, const Scope& scope) {
  if (lane.match.empty()) return false;
  if (!scope.service.empty()) return lane.service == scope.service;
  return lane.service.empty() && (lane.gateway.empty() || lane.gateway == scope.gateway);
}

}  // namespace

struct EntranceRules::Impl {
  std::vector<Rule> rules;
  KeyTable keys;
  Prefilter prefilter;
};

namespace {

// The longest prefix every full match of the regex starts with ("" when
// RE2 cannot bound its matches): all strings between the possible-match
// range's ends share the ends' common prefix.
std::string RegexLiteralPrefix(const Condition& c) {
  if (!c.re_has_range) return "";
  size_t n = 0;
  while (n < c.re_min.size() && n < c.re_max.size() && c.re_min[n] == c.re_max[n]) ++n;
  return c.re_min.substr(0, n);
}

bool Guardable(Source s) {
  return s == Source::kHeader || s == Source::kCookie || s == Source::kQuery ||
         s == Source::kBaggage || s == Source::kPath;
}

void BuildPrefilter(std::vector<Rule>& rules, Prefilter* pf) {
  uint32_t total = 0;
  for (Rule& r : rules) {
    r.first_clause = total;
    total += static_cast<uint32_t>(r.clauses.size());
  }
  if (total == 0 || total > Prefilter::kMaxClauses) return;
  pf->enabled = true;
  pf->words = (total + 63) / 64;
  for (uint32_t r = 0; r < rules.size(); ++r) {
    for (uint32_t c = 0; c < rules[r].clauses.size(); ++c) pf->clause_at.emplace_back(r, c);
  }
  auto group_of = [&](const Condition& c) -> GuardGroup& {
    for (GuardGroup& g : pf->groups) {
      if (g.source == c.source && g.key == c.key && g.carried_key == c.carried_key) return g;
    }
    pf->groups.push_back({.source = c.source, .key = c.key, .carried_key = c.carried_key});
    return pf->groups.back();
  };
  for (const Rule& r : rules) {
    for (size_t i = 0; i < r.clauses.size(); ++i) {
      const uint32_t id = r.first_clause + static_cast<uint32_t>(i);
      bool guarded = false;
      for (const Condition& c : r.clauses[i].conditions) {
        if (!Guardable(c.source)) continue;
        if (c.op == Op::kExact || c.op == Op::kIn) {
          GuardGroup& g = group_of(c);
          if (c.op == Op::kExact) {
            g.exact.emplace_back(c.value, id);
          } else {
            for (const std::string& v : c.values) g.exact.emplace_back(v, id);
          }
          guarded = true;
        } else if (c.op == Op::kPrefix || c.op == Op::kRegex) {
          std::string literal = c.op == Op::kPrefix ? c.value : RegexLiteralPrefix(c);
          if (literal.empty()) continue;  // every value would pass: no guard
          group_of(c).prefix.emplace_back(std::move(literal), id);
          guarded = true;
        }
        if (guarded) break;  // one guard per clause is enough to skip it
      }
      if (!guarded) pf->unguarded[id / 64] |= uint64_t{1} << (id % 64);
    }
  }
  for (GuardGroup& g : pf->groups) {
    std::sort(g.exact.begin(), g.exact.end());
    for (const auto& [value, id] : g.exact) g.exact_shapes |= uint64_t{1} << Shape(value);
  }
}

}  // namespace

std::shared_ptr<const EntranceRules> EntranceRules::Compile(const std::vector<config::Lane>& lanes,
                                                            const Scope& scope) {
  auto rules = std::make_shared<EntranceRules>();
  rules->impl_ = std::make_unique<Impl>();
  Impl& impl = *rules->impl_;
  for (const config::Lane& lane : lanes) {
    if (!Applies(lane, scope)) continue;
    Rule r;
    r.tag = lane.tag;
    r.priority = lane.priority;
    for (const config::MatchClause& mc : lane.match) {
      r.clauses.push_back(CompileClause(lane, mc, impl.keys));
    }
    impl.rules.push_back(std::move(r));
  }
  std::stable_sort(impl.rules.begin(), impl.rules.end(),
                   [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
  BuildPrefilter(impl.rules, &impl.prefilter);
  return rules;
}

std::string_view EntranceRules::Match(const RequestView& rq) const {
  if (!impl_) return {};
  Context ctx(rq, impl_->keys);
  const Prefilter& pf = impl_->prefilter;
  // Clauses whose guard holds for this request, plus those without one.
  uint64_t may[Prefilter::kWords];
  if (pf.enabled) {
    for (uint32_t w = 0; w < pf.words; ++w) may[w] = pf.unguarded[w];
    auto set = [&](uint32_t id) { may[id / 64] |= uint64_t{1} << (id % 64); };
    for (const GuardGroup& g : pf.groups) {
      std::string_view v;
      // A guard never holds on a missing value (it is exact, in, prefix or regex).
      if (!ctx.Value(g.source, g.key, g.carried_key, &v)) continue;
      if ((g.exact_shapes >> Shape(v) & 1) != 0) {
        auto it = std::lower_bound(
            g.exact.begin(), g.exact.end(), v,
            [](const std::pair<std::string, uint32_t>& e, std::string_view x) {
              return Compare(e.first, x) < 0;
            });
        for (; it != g.exact.end() && Equal(it->first, v); ++it) set(it->second);
      }
      for (const auto& [prefix, id] : g.prefix) {
        // The last-byte test inline: most prefixes fail it.
        if (v.size() >= prefix.size() && !prefix.empty() && v[prefix.size() - 1] == prefix.back() &&
            StartsWith(v, prefix)) {
          set(id);
        }
      }
    }
  }
  auto holds = [&](const Clause& clause) {
    for (const Condition& c : clause.conditions) {
      if (!Holds(c, ctx)) return false;
    }
    return InShare(clause, ctx);
  };
  if (pf.enabled) {
    for (uint32_t w = 0; w < pf.words; ++w) {
      for (uint64_t bits = may[w]; bits != 0; bits &= bits - 1) {
        const auto [r, c] = pf.clause_at[w * 64 + std::countr_zero(bits)];
        const Rule& rule = impl_->rules[r];
        if (holds(rule.clauses[c])) return rule.tag;
      }
    }
    return {};
  }
  for (const Rule& rule : impl_->rules) {
    for (const Clause& clause : rule.clauses) {
      if (holds(clause)) return rule.tag;
    }
  }
  return {};
}

bool EntranceRules::empty() const { return !impl_ || impl_->rules.empty(); }

EntranceRules::~EntranceRules() = default;

uint32_t StickyBucket(std::string_view key) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;  // FNV prime
  }
  return static_cast<uint32_t>(h % 100);
}

}  // namespace graymesh::lane
