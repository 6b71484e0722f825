// Small pieces every benchmark report needs: medians, the machine's description, the
// load average, and failing loudly.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace ldx::bench {

double median(std::vector<double> v);
// v with `digits` decimals.
std::string fixed(double v, int digits);
// stdout of `sh -c cmd`, trailing newlines and spaces removed.
std::string shell_output(const std::string& cmd);
// "CPU model, N cores, X GiB RAM, Linux <release> <arch>".
std::string machine_description();
// The first three fields of /proc/loadavg.
std::string load_average();
// Command-line flags of the form "--name value".
struct Flags {
  std::map<std::string, std::string> values;
  [[nodiscard]] std::string get(const std::string& name, const std::string& fallback = "") const;
  [[nodiscard]] int number(const std::string& name, int fallback) const;
  // "20,200,2000"
  [[nodiscard]] std::vector<size_t> sizes(const std::string& name, std::vector<size_t> fallback) const;
};
// Accepts only the flags in `names`; throws std::invalid_argument naming them otherwise.
Flags parse_flags(int argc, char** argv, const std::vector<std::string>& names);
// What every benchmark recording from ld-simulator takes: --simulator PATH (required),
// --entries N, --repeats N, --out FILE (Markdown), --json FILE (summary), --command TEXT.
struct RunOptions {
  std::string simulator;
  int entries = 60'000;
  int repeats = 3;
  std::string out;
  std::string json;
  std::string command;
};
inline const std::vector<std::string> kRunFlags = {"--simulator", "--entries", "--repeats",
                                                   "--out",       "--json",    "--command"};
// Fills `opt` from those flags; `program` is the --command default.
void read_run_options(const Flags& flags, const std::string& program, RunOptions& opt);
// Runs body and turns an exception into a message on stderr and exit code 1.
int guarded_main(const char* program, const std::function<int()>& body);

// Prints a benchmark's Markdown report and writes it to `out_path`, and its numbers to
// `json_path` (what bench/report.py builds docs/BENCHMARKS.md from); empty paths: skipped.
void publish(const std::string& markdown, const std::string& out_path, const std::string& json_path,
             const nlohmann::json& summary);

// CPU time (user + system) this process used so far, every thread, in seconds.
double process_cpu_seconds();

// Throws std::runtime_error("what: ...") when st is not ok.
void check(const Status& st, const std::string& what);

}  // namespace ldx::bench
