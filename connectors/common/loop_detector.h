// Notices a position (a continuation token, a next link) handed out a second time
// during one walk of a paged listing (a loop, not progress) in constant memory, however
// long the walk: the last kRecent positions catch short loops at once, and Brent's
// anchor (the position at steps 1, 2, 4, 8, ...) catches any longer loop within about
// twice its length. Remembering every position grew by one per page.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ldx {

class TokenLoopDetector {
 public:
  static constexpr size_t kRecent = 64;
  // A position the walk is about to request.
  void requested(const std::string& token) {
    recent_[next_slot_] = token;
    next_slot_ = (next_slot_ + 1) % kRecent;
    if (++steps_ == next_anchor_at_) {
      anchor_ = token;
      next_anchor_at_ *= 2;
    }
  }
  // Whether a position handed back was requested before in this walk.
  [[nodiscard]] bool seen(const std::string& token) const {
    if (steps_ == 0) return false;
    if (token == anchor_) return true;
    for (const auto& t : recent_) {
      if (!t.empty() && t == token) return true;
    }
    return false;
  }
  void clear() {
    for (auto& t : recent_) t.clear();
    next_slot_ = 0;
    anchor_.clear();
    steps_ = 0;
    next_anchor_at_ = 1;
  }

 private:
  std::array<std::string, kRecent> recent_;
  size_t next_slot_ = 0;
  std::string anchor_;
  uint64_t steps_ = 0;
  uint64_t next_anchor_at_ = 1;
};

}  // namespace ldx
