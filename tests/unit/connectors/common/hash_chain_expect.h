// Shared by the hash-chain and normalizer tests: the hash the pipeline computes from a
// record's fields must be the one `ldexport verify` recomputes from the archived line.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/hash_chain.h"

namespace ldx::test {

// Chains `r` after `prev` ("" = unchained), finishes it, and compares both hashes.
inline void expect_hash_from_fields_equals_hash_of_envelope(Record r, std::string_view prev = kChainGenesis) {
  r.chain_prev = std::string(prev);
  r.chain_hash.clear();
  r.finish();
  auto from_fields = record_hash(r);
  auto from_envelope = record_hash(r.envelope);
  ASSERT_TRUE(from_fields.is_ok()) << from_fields.status().describe();
  ASSERT_TRUE(from_envelope.is_ok()) << from_envelope.status().describe();
  EXPECT_EQ(from_fields.value(), from_envelope.value()) << r.envelope;
}

}  // namespace ldx::test
