#include "support/load_generator.h"

#include <fmt/format.h>

#include <memory>

#include "support/http_client.h"

namespace graymesh::test {

std::string LoadTally::Summary() const {
  std::string s = fmt::format(
      "{} requests ({} POST): {} ok, {} non-2xx, {} socket errors ({} of them GET, {} POST)",
      requests, posts, ok, non_2xx, socket_errors, get_failures, post_failures);
  for (const std::string& e : examples) s += "\n  " + e;
  return s;
}

LoadGenerator::LoadGenerator(LoadOptions options) : options_(std::move(options)) {
  for (int i = 0; i < options_.connections; ++i) threads_.emplace_back([this, i] { Loop(i); });
}

LoadGenerator::~LoadGenerator() { Stop(); }

LoadTally LoadGenerator::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mu_);
  return tally_;
}

bool LoadGenerator::WaitForMore(uint64_t n, std::chrono::milliseconds timeout) const {
  const uint64_t target = requests_.load() + n;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (requests_.load() < target) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void LoadGenerator::Record(bool get, bool ok, int status, const std::string& what) {
  std::lock_guard lock(mu_);
  ++tally_.requests;
  if (!get) ++tally_.posts;
  requests_.fetch_add(1);
  if (ok) {
    ++tally_.ok;
    return;
  }
  if (status == 0) {
    ++tally_.socket_errors;
  } else {
    ++tally_.non_2xx;
  }
  ++(get ? tally_.get_failures : tally_.post_failures);
  if (tally_.examples.size() < 10) tally_.examples.push_back(what);
}

void LoadGenerator::Loop(int index) {
  std::unique_ptr<TestConnection> conn;
  const std::string body = "order-" + std::to_string(index);
  for (uint64_t n = 0; !stop_; ++n) {
    const bool get = options_.post_target.empty() || n % 2 == 0;
    if (conn == nullptr || !conn->connected()) {
      conn = std::make_unique<TestConnection>(options_.port);
      if (!conn->connected()) {
        Record(get, false, 0, fmt::format("{}: connect failed", get ? "GET" : "POST"));
        conn.reset();
        std::this_thread::sleep_for(options_.pause);
        continue;
      }
    }
    const std::string request =
        get ? fmt::format("GET {} HTTP/1.1\r\nhost: shop\r\n\r\n", options_.get_target)
            : fmt::format("POST {} HTTP/1.1\r\nhost: shop\r\ncontent-length: {}\r\n\r\n{}",
                          options_.post_target, body.size(), body);
    Response r;
    if (conn->Send(request)) {
      r = conn->ReadResponse(options_.timeout);
    } else {
      r.error = "send failed";
    }
    const bool ok = r.status >= 200 && r.status < 300 &&
                    (options_.expect_in_body.empty() ||
                     r.body.find(options_.expect_in_body) != std::string::npos);
    Record(get, ok, r.status,
           fmt::format("{} {}: {} {}{}", get ? "GET" : "POST", r.status,
                       r.Header("x-graymesh-reason"), r.error,
                       ok ? "" : " " + r.body.substr(0, 300)));
    if (r.status == 0 || r.closed_after) conn.reset();
    std::this_thread::sleep_for(options_.pause);
  }
}

}  // namespace graymesh::test
