#ifndef PAT_FUZZ_COMMON_FUZZ_ENTRY_H_
#define PAT_FUZZ_COMMON_FUZZ_ENTRY_H_

#include "absl/strings/string_view.h"

// Fuzz entry points for the parsers in common/ (SPEC §9): the libFuzzer
// targets in fuzz/ and the corpus regression test
// (tests/unit/fuzz_corpus_test.cc) call these. Each checks the parser's
// contract on `data` and aborts the process when it is violated; they never
// fail on a merely invalid input.
namespace pat::fuzz {

// ParseSecret (common/secret.h): an accepted secret has the published shape
// and checksum and every one-character change of it is refused; a refusal is
// INVALID_ARGUMENT and never echoes the candidate. QuoteForError never echoes
// a secret-shaped value and stays bounded.
void FuzzSecretParser(absl::string_view data);

// ParseResourceLink (common/resource_link.h) for both token kinds: an
// accepted link names a valid kind and id, its CanonicalLink parses back to
// the same resource; a refusal is INVALID_ARGUMENT with a bounded message
// that does not echo a long input.
void FuzzResourceLinkParser(absl::string_view data);

}  // namespace pat::fuzz

#endif  // PAT_FUZZ_COMMON_FUZZ_ENTRY_H_
