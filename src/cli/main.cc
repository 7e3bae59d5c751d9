#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"graymesh: microservice governance without code changes"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
