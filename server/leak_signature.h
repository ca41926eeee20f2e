#ifndef PAT_SERVER_LEAK_SIGNATURE_H_
#define PAT_SERVER_LEAK_SIGNATURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Verification of secret-scanning partner requests: the body is signed with
// ECDSA P-256 / SHA-256; the request names the key in
// `Github-Public-Key-Identifier` and carries the base64 DER signature in
// `Github-Public-Key-Signature`. Keys come from a file in the shape GitHub
// publishes at https://api.github.com/meta/public_keys/secret_scanning:
//   {"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…",
//                    "is_current":true}, …]}
// Every listed key is accepted (is_current only says which one GitHub signs
// new requests with; the old one stays valid during a rotation). Only EC
// P-256 keys are loaded; anything else in the file is an error at start.
// Immutable and thread-safe.
namespace pat {

inline constexpr int kMaxLeakKeys = 64;

class LeakKeyring {
 public:
  // INVALID_ARGUMENT naming what is wrong (never key material).
  static absl::StatusOr<std::unique_ptr<LeakKeyring>> FromJson(
      absl::string_view json_text);
  ~LeakKeyring();

  // OK when `signature_b64` (standard base64 of a DER ECDSA signature) is a
  // valid signature of `body` by the key `key_id`; UNAUTHENTICATED otherwise
  // (unknown key, bad encoding, wrong signature), with one message for
  // every case.
  absl::Status Verify(absl::string_view key_id, absl::string_view signature_b64,
                      absl::string_view body) const;

  int size() const { return static_cast<int>(keys_.size()); }

  struct Key;

 private:
  LeakKeyring() = default;
  std::vector<std::unique_ptr<Key>> keys_;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_SIGNATURE_H_
