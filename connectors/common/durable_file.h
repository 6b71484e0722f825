// POSIX helpers for durability: atomic replace (temp, fsync, rename, fsync dir) and
// fsync of a directory after creating or removing entries in it.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace ldx {

Status fsync_dir(const std::filesystem::path& dir);
Status atomic_write_file(const std::filesystem::path& path, const std::string& content);
Status ensure_dir(const std::filesystem::path& dir);

// An exclusive advisory lock (flock) on a file, held for the object's life, so two
// daemons never share one state or archive directory.
class DirLock {
 public:
  DirLock() = default;
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  Status acquire(const std::filesystem::path& lock_file, const std::string& what);

 private:
  int fd_ = -1;
};

}  // namespace ldx
