// Prometheus text exposition (format 0.0.4) without a client library: ldexport's
// metrics are derived at scrape time from counters the pipeline already keeps, so a
// small writer is all that is needed. Names follow Prometheus conventions: base units
// in the name, `_total` for counters.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ldx {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  // Starts a metric family; each family's HELP and TYPE are written once.
  void family(const std::string& name, const std::string& type, const std::string& help);
  void sample(const std::string& name, const Labels& labels, double value);
  void sample(const std::string& name, double value) { sample(name, {}, value); }
  [[nodiscard]] const std::string& text() const { return out_; }

 private:
  std::string out_;
};

std::string escape_label_value(const std::string& v);

}  // namespace ldx
