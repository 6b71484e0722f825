#pragma once
#include "config/config.h"
namespace ldx {
// Every built-in component, registered explicitly (no static self-registration).
Catalog builtin_catalog();
}  // namespace ldx
