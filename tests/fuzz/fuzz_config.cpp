// libFuzzer target: arbitrary bytes as the YAML config. Loading must never crash: it
// either yields a config or errors that each name file:line:column.
#include <cstdlib>
#include <string>

#include "config/config.h"
#include "registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ldx::Catalog catalog = ldx::builtin_catalog();
  std::string yaml(reinterpret_cast<const char*>(data), size);
  auto r = ldx::load_config_string(yaml, "fuzz.yaml", catalog);
  if (!r.config && r.errors.empty()) std::abort();  // a rejected config must say why
  for (const auto& e : r.errors) {
    if (e.rfind("fuzz.yaml", 0) != 0) std::abort();  // every error names the file
  }
  return 0;
}
