#include "cli/cli.h"

int main(int argc, char** argv) { return ldx::cli_main(argc, argv); }
