#ifndef PAT_SIDECAR_FRONT_FUZZ_ENTRY_H_
#define PAT_SIDECAR_FRONT_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>

namespace pat::sidecar {

// Pushes raw client bytes through the HTTP front's real request steps, with
// no network: the head scanner, the Beast parser, CheckRequestHead,
// CollectCredentials, RequestIdFor, the refusal renderer and the header
// rewrite (with a fixed allowed decision standing in for the authorizer),
// then the body parser over the remaining bytes and, treating the input as
// an upstream response, RewriteResponseHeaders. Traps (abort) when an
// invariant breaks: a secret-shaped value in the upstream header block or
// in a rendered response. Returns 0 (libFuzzer convention).
int FuzzHttpFront(const uint8_t* data, size_t size);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_FRONT_FUZZ_ENTRY_H_
