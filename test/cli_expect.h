// gtest expectations on CLI results, shared by the process tests (kept out of harness.cc, which
// the benchmark links without gtest).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "harness.h"

namespace edgetrust::test {

// A CLI failure: exit 1 and exactly one "edgetrust: ..." line on stderr, which is returned.
inline std::string ExpectOneErrorLine(const CommandResult& r) {
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("edgetrust: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  return r.err;
}

}  // namespace edgetrust::test
