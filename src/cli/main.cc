#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

namespace graymesh::cli {
void RegisterDataPlane(CLI::App& app);
void RegisterControl(CLI::App& app);
void RegisterCanary(CLI::App& app);
}  // namespace graymesh::cli
void RegisterSampleApp(CLI::App& app);

int main(int argc, char** argv) {
  CLI::App app{"graymesh: microservice governance without code changes"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->envname("GRAYMESH_LOG")
      ->capture_default_str();
  app.parse_complete_callback([&] { spdlog::set_level(spdlog::level::from_str(log_level)); });
  graymesh::cli::RegisterDataPlane(app);
  graymesh::cli::RegisterControl(app);
  graymesh::cli::RegisterCanary(app);
  RegisterSampleApp(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
