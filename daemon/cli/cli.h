#pragma once
namespace ldx {
// The ldexport command line: run, once, validate, checkpoints list|reset, --version.
int cli_main(int argc, char** argv);
}  // namespace ldx
