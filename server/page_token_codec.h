#ifndef PAT_SERVER_PAGE_TOKEN_CODEC_H_
#define PAT_SERVER_PAGE_TOKEN_CODEC_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/token_store.h"

// Opaque list page tokens: a cursor bound to its query's filter tag, signed
// with HMAC-SHA-256 under the replicas' shared key (fetched from the store
// once, created there by the first replica that asks). A forged, edited or
// foreign-query token is INVALID_ARGUMENT "page_token: invalid".
// Thread-safe; `store` must outlive the codec.
namespace pat {

class PageTokenCodec {
 public:
  explicit PageTokenCodec(TokenStore& store) : store_(store) {}

  absl::StatusOr<std::string> Encode(absl::string_view cursor,
                                     absl::string_view tag);
  // The cursor of a token made by Encode with the same tag.
  absl::StatusOr<std::string> Decode(absl::string_view token,
                                     absl::string_view tag);

 private:
  absl::StatusOr<std::string> Key();

  TokenStore& store_;
  absl::Mutex key_mu_;
  std::string key_ ABSL_GUARDED_BY(key_mu_);
};

}  // namespace pat

#endif  // PAT_SERVER_PAGE_TOKEN_CODEC_H_
