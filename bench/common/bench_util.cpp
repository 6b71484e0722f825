#include "bench_util.h"

#include <sys/resource.h>

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace ldx::bench {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string shell_output(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string machine_description() {
  utsname u{};
  ::uname(&u);
  return shell_output("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'") + ", " +
         shell_output("nproc") + " cores, " +
         shell_output("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo") + " RAM, " + u.sysname + " " +
         u.release + " " + u.machine;
}

std::string load_average() { return shell_output("cut -d' ' -f1-3 /proc/loadavg"); }

std::string Flags::get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

int Flags::number(const std::string& name, int fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : std::stoi(it->second);
}

std::vector<size_t> Flags::sizes(const std::string& name, std::vector<size_t> fallback) const {
  auto it = values.find(name);
  if (it == values.end()) return fallback;
  std::vector<size_t> out;
  std::stringstream ss(it->second);
  for (std::string p; std::getline(ss, p, ',');) out.push_back(std::stoul(p));
  return out;
}

Flags parse_flags(int argc, char** argv, const std::vector<std::string>& names) {
  Flags f;
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (std::find(names.begin(), names.end(), name) == names.end() || i + 1 >= argc) {
      std::string usage = "flags (each with a value):";
      for (const auto& n : names) usage += " " + n;
      throw std::invalid_argument("bad flag " + name + "; " + usage);
    }
    f.values[name] = argv[i + 1];
  }
  return f;
}

void read_run_options(const Flags& flags, const std::string& program, RunOptions& opt) {
  opt.simulator = flags.get("--simulator");
  opt.entries = flags.number("--entries", opt.entries);
  opt.repeats = flags.number("--repeats", opt.repeats);
  opt.out = flags.get("--out");
  opt.json = flags.get("--json");
  opt.command = flags.get("--command", program);
  if (opt.simulator.empty()) throw std::invalid_argument("--simulator is required");
}

int guarded_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << program << " failed: " << e.what() << "\n";
    return 1;
  }
}

void publish(const std::string& markdown, const std::string& out_path, const std::string& json_path,
             const nlohmann::json& summary) {
  std::cout << markdown;
  if (!out_path.empty()) {
    std::ofstream(out_path) << markdown;
    std::cerr << "wrote " << out_path << "\n";
  }
  if (!json_path.empty()) std::ofstream(json_path) << summary.dump(2) << "\n";
}

double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

void check(const Status& st, const std::string& what) {
  if (!st.is_ok()) throw std::runtime_error(what + ": " + st.describe());
}

}  // namespace ldx::bench
