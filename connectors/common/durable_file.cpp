#include "common/durable_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ldx {

namespace {
std::string err(const std::string& what, const std::filesystem::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}
}  // namespace

Status fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::retryable(err("cannot open directory", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::retryable(err("cannot fsync directory", dir));
  return Status::ok();
}

Status ensure_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::fatal("cannot create directory " + dir.string() + ": " + ec.message());
  return Status::ok();
}

Status atomic_write_file(const std::filesystem::path& path, const std::string& content) {
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::retryable(err("cannot create", tmp));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Status::retryable(err("cannot write", tmp));
      ::close(fd);
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Status::retryable(err("cannot fsync", tmp));
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::retryable(err("cannot rename into", path));
  return fsync_dir(path.parent_path().empty() ? "." : path.parent_path());
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status DirLock::acquire(const std::filesystem::path& lock_file, const std::string& what) {
  fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::fatal(err("cannot open lock file", lock_file));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::fatal(what + " " + lock_file.parent_path().string() +
                         " is in use by another ldexport process (lock " + lock_file.string() + ")");
  }
  return Status::ok();
}

}  // namespace ldx
