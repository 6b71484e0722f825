#include "core/status.h"

namespace ldx {

const char* error_class_name(ErrorClass c) {
  switch (c) {
    case ErrorClass::kOk: return "ok";
    case ErrorClass::kRetryable: return "retryable";
    case ErrorClass::kDataError: return "data error";
    case ErrorClass::kFatal: return "fatal";
  }
  return "unknown";
}

std::string Status::describe() const {
  if (is_ok()) return "ok";
  return std::string(error_class_name(cls_)) + ": " + msg_;
}

}  // namespace ldx
