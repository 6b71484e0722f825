#include "sinks/postgres/pg_rows.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

#include "common/hash_chain.h"
#include "core/time_util.h"

namespace ldx::pg {

namespace {
const char* nullable(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

const char* number(std::array<char, 24>& buf, int64_t v) {
  auto res = std::to_chars(buf.data(), buf.data() + buf.size() - 1, v);
  *res.ptr = '\0';
  return buf.data();
}

bool is_json_null(const std::string& data) { return data.empty() || data == "null"; }

bool same_content(const Record& a, const Record& b) {
  return a.op == b.op && a.version == b.version && a.data == b.data;
}

// Same rule as the verdicts query's seen_in_history, for changes earlier in the batch.
bool replays(const Record& earlier, const Record& r) {
  return same_content(earlier, r) && (r.version || (r.occurred_at_ms && earlier.occurred_at_ms == r.occurred_at_ms));
}
}  // namespace

StageRow::StageRow(const Record& r, int64_t seq) {
  fields_[0] = number(numbers_[0], seq);
  fields_[1] = r.id.c_str();
  fields_[2] = op_name(r.op);
  fields_[3] = nullable(r.project);
  fields_[4] = nullable(r.environment);
  fields_[5] = nullable(r.kind);
  fields_[6] = r.version ? number(numbers_[1], *r.version) : nullptr;
  fields_[7] = r.occurred_at_ms ? number(numbers_[2], *r.occurred_at_ms) : nullptr;
  fields_[8] = number(numbers_[3], r.observed_at_ms);
  fields_[9] = is_json_null(r.data) ? nullptr : r.data.c_str();
  fields_[10] = nullable(r.chain_prev);
  fields_[11] = nullable(r.chain_hash);
}

TableRow::TableRow(const Record& r) {
  fields_[0] = r.id.c_str();
  fields_[1] = op_name(r.op);
  fields_[2] = nullable(r.project);
  fields_[3] = nullable(r.environment);
  fields_[4] = nullable(r.kind);
  fields_[5] = r.version ? number(version_, *r.version) : nullptr;
  if (r.occurred_at_ms) {
    occurred_ = format_rfc3339_ms(*r.occurred_at_ms);
    fields_[6] = occurred_.c_str();
  }
  observed_ = format_rfc3339_ms(r.observed_at_ms);
  fields_[7] = observed_.c_str();
  fields_[8] = is_json_null(r.data) ? nullptr : r.data.c_str();
  fields_[9] = nullable(r.chain_prev);
  fields_[10] = nullable(r.chain_hash);
}

const std::vector<std::string>& direct_columns() {
  static const std::vector<std::string> kCols{"id",      "op",          "project",     "environment", "kind",
                                              "version", "occurred_at", "observed_at", "data",        "prev_hash",
                                              "hash"};
  return kCols;
}

std::string text_array_literal(const std::vector<const Record*>& records) {
  std::string out = "{";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : records[i]->id) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::vector<const Record*> fresh_records(const std::vector<const Record*>& records,
                                         const std::vector<std::string>& stored_ids) {
  std::unordered_set<std::string_view> seen(stored_ids.begin(), stored_ids.end());
  std::vector<const Record*> out;
  out.reserve(records.size());
  for (const Record* r : records) {
    if (seen.insert(r->id).second) out.push_back(r);
  }
  return out;
}

std::vector<PlannedChange> plan_entity_changes(const std::vector<const Record*>& records,
                                               const std::vector<EntityVerdict>& verdicts) {
  struct IdState {
    int64_t revision = 0;
    int64_t valid_from_ms = std::numeric_limits<int64_t>::min();
    size_t last_index = 0;                    // previous record of this id in the batch
    std::optional<size_t> last_change;        // index into `out` of its latest planned change
    std::vector<size_t> applied;              // record indexes planned as changes
  };
  std::vector<PlannedChange> out;
  std::map<std::string_view, IdState> ids;
  const size_t n = std::min(records.size(), verdicts.size());
  for (size_t i = 0; i < n; ++i) {
    const Record& r = *records[i];
    const EntityVerdict& v = verdicts[i];
    auto [it, first] = ids.try_emplace(r.id);
    IdState& st = it->second;
    bool replay = v.seen_in_history;
    if (first) {
      st.revision = v.current_revision.value_or(0);
      if (v.current_valid_from_ms) st.valid_from_ms = *v.current_valid_from_ms;
      replay = replay || v.same_as_current;
    } else {
      replay = replay || same_content(*records[st.last_index], r);
      if (!replay) {
        replay = std::any_of(st.applied.begin(), st.applied.end(), [&](size_t k) { return replays(*records[k], r); });
      }
    }
    st.last_index = i;
    if (replay) continue;
    const int64_t candidate = r.occurred_at_ms.value_or(r.observed_at_ms);
    const int64_t valid_from = std::max(candidate, st.valid_from_ms);
    if (st.last_change) out[*st.last_change].valid_to_ms = valid_from;
    st.revision += 1;
    st.valid_from_ms = valid_from;
    st.last_change = out.size();
    st.applied.push_back(i);
    out.push_back(PlannedChange{i, st.revision, valid_from, std::nullopt});
  }
  return out;
}

std::string dead_letter_key(const Record& r) {
  std::string fp;
  auto field = [&fp](std::string_view v) {
    fp += std::to_string(v.size());
    fp += ':';
    fp += v;
  };
  field(op_name(r.op));
  field(r.id);
  field(r.version ? std::to_string(*r.version) : std::string());
  field(r.data);
  return sha256_hex(fp);
}

std::string to_storable_text(std::string_view in) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(in[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if (ok) {
      static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

}  // namespace ldx::pg
