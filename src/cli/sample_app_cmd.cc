// `graymesh sample-app`: flags map one to one onto SampleAppOptions.
#include <CLI/CLI.hpp>
#include <memory>

#include "app/sample_app.h"

void RegisterSampleApp(CLI::App& app) {
  // Shared with the callback, which runs after parsing filled it in.
  auto opts = std::make_shared<graymesh::app::SampleAppOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sample-app", "Demo/test service: answers JSON naming itself and its downstream calls");
  cmd->add_option("--name", opts->name, "Service name")->required();
  cmd->add_option("--listen", opts->listen, "Listen address HOST:PORT")->capture_default_str();
  cmd->add_option("--lane", opts->lane, "Lane tag this instance reports (empty = base)");
  CLI::Option* via =
      cmd->add_option("--via", opts->via, "Sidecar outbound listener HOST:PORT for --calls");
  cmd->add_option("--calls", opts->calls, "Services to call in order, comma-separated")
      ->delimiter(',')
      ->needs(via);
  cmd->add_option("--propagate", opts->propagate,
                  "Inbound headers copied onto calls, as OpenTelemetry does: all (traceparent, "
                  "tracestate, baggage), trace (traceparent, tracestate) or none")
      ->check(CLI::IsMember({"all", "trace", "none"}))
      ->capture_default_str();
  cmd->add_option("--fail-rate", opts->fail_rate, "Share of requests answered 500 (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--latency", opts->latency_ms, "Milliseconds to wait before every answer")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--forward-headers", opts->forward_headers,
                  "Headers the app passes on to its calls itself (e.g. x-user-id), comma-separated")
      ->delimiter(',');
  cmd->add_option("--call-timeout", opts->call_timeout_ms, "Per-call timeout in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([opts] {
    int code = graymesh::app::RunSampleApp(*opts);
    // RuntimeError is CLI11's silent way to make CLI11_PARSE return a code.
    if (code != 0) throw CLI::RuntimeError(code);
  });
}
