#include "common/json_diff.h"

#include <algorithm>
#include <vector>

#include "core/json_writer.h"

namespace ldx {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

const SecretPolicy kCopyAsIs{true};

void append_pointer_token(std::string& path, std::string_view key) {
  path.push_back('/');
  for (char c : key) {
    if (c == '~') {
      path += "~0";
    } else if (c == '/') {
      path += "~1";
    } else {
      path.push_back(c);
    }
  }
}

bool is_number(element_type t) {
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

bool numbers_equal(element a, element b) {
  const element_type ta = a.type();
  const element_type tb = b.type();
  if (ta == element_type::INT64 && tb == element_type::INT64) return int64_t(a) == int64_t(b);
  if (ta == element_type::UINT64 && tb == element_type::UINT64) return uint64_t(a) == uint64_t(b);
  if (ta == element_type::INT64 && tb == element_type::UINT64) return int64_t(a) >= 0 && uint64_t(int64_t(a)) == uint64_t(b);
  if (ta == element_type::UINT64 && tb == element_type::INT64) return int64_t(b) >= 0 && uint64_t(int64_t(b)) == uint64_t(a);
  double da = 0;
  double db = 0;
  if (a.get_double().get(da) != simdjson::SUCCESS || b.get_double().get(db) != simdjson::SUCCESS) return false;
  return da == db;
}

// Equal scalars (containers are compared member by member by the caller).
bool scalars_equal(element a, element b) {
  const element_type ta = a.type();
  const element_type tb = b.type();
  if (is_number(ta) && is_number(tb)) return numbers_equal(a, b);
  if (ta != tb) return false;
  switch (ta) {
    case element_type::STRING: return std::string_view(a) == std::string_view(b);
    case element_type::BOOL: return bool(a) == bool(b);
    case element_type::NULL_VALUE: return true;
    default: return false;
  }
}

class Differ {
 public:
  explicit Differ(std::string& out) : out_(out) {}

  void diff(std::string& path, const element* before, const element* after) {
    if (before == nullptr && after == nullptr) return;
    if (before == nullptr || after == nullptr) {
      emit(path, before, after);
      return;
    }
    const element_type tb = before->type();
    const element_type ta = after->type();
    if (tb == element_type::OBJECT && ta == element_type::OBJECT) {
      diff_objects(path, *before, *after);
    } else if (tb == element_type::ARRAY && ta == element_type::ARRAY) {
      diff_arrays(path, *before, *after);
    } else if (tb == element_type::OBJECT || tb == element_type::ARRAY || ta == element_type::OBJECT ||
               ta == element_type::ARRAY || !scalars_equal(*before, *after)) {
      emit(path, before, after);
    }
  }

 private:
  using Members = std::vector<std::pair<std::string_view, element>>;

  static Members sorted_members(element obj) {
    Members m;
    for (auto field : simdjson::dom::object(obj)) m.emplace_back(field.key, field.value);
    // Stable: with a repeated key (invalid but possible) the last one wins, as in most readers.
    std::stable_sort(m.begin(), m.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    Members unique;
    for (size_t i = 0; i < m.size(); ++i) {
      if (i + 1 < m.size() && m[i + 1].first == m[i].first) continue;
      unique.push_back(m[i]);
    }
    return unique;
  }

  void diff_objects(std::string& path, element before, element after) {
    const Members b = sorted_members(before);
    const Members a = sorted_members(after);
    size_t i = 0;
    size_t j = 0;
    const size_t mark = path.size();
    while (i < b.size() || j < a.size()) {
      if (j >= a.size() || (i < b.size() && b[i].first < a[j].first)) {
        append_pointer_token(path, b[i].first);
        emit(path, &b[i].second, nullptr);
        ++i;
      } else if (i >= b.size() || a[j].first < b[i].first) {
        append_pointer_token(path, a[j].first);
        emit(path, nullptr, &a[j].second);
        ++j;
      } else {
        append_pointer_token(path, b[i].first);
        diff(path, &b[i].second, &a[j].second);
        ++i;
        ++j;
      }
      path.resize(mark);
    }
  }

  void diff_arrays(std::string& path, element before, element after) {
    std::vector<element> b;
    std::vector<element> a;
    for (auto v : simdjson::dom::array(before)) b.push_back(v);
    for (auto v : simdjson::dom::array(after)) a.push_back(v);
    const size_t mark = path.size();
    for (size_t k = 0; k < std::max(a.size(), b.size()); ++k) {
      path += '/';
      path += std::to_string(k);
      diff(path, k < b.size() ? &b[k] : nullptr, k < a.size() ? &a[k] : nullptr);
      path.resize(mark);
    }
  }

  void emit(const std::string& path, const element* before, const element* after) {
    out_ += first_ ? "{\"path\":" : ",{\"path\":";
    first_ = false;
    append_json_string(out_, path);
    out_ += ",\"change\":\"";
    out_ += before == nullptr ? "added" : after == nullptr ? "removed" : "changed";
    out_ += '"';
    if (before != nullptr) {
      out_ += ",\"before\":";
      append_json_value(out_, *before, kCopyAsIs);
    }
    if (after != nullptr) {
      out_ += ",\"after\":";
      append_json_value(out_, *after, kCopyAsIs);
    }
    out_ += '}';
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace

void append_json_changes(std::string& out, const element* before, const element* after) {
  out.push_back('[');
  std::string path;
  Differ(out).diff(path, before, after);
  out.push_back(']');
}

}  // namespace ldx
