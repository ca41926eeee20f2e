#include "common/policy/reason.h"

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pat::policy {
namespace {

constexpr absl::string_view kWwwAuthenticateInvalidToken =
    "Bearer error=\"invalid_token\"";

constexpr Reason kAllReasons[] = {
    Reason::kAllowed,
    Reason::kPathInvalid,
    Reason::kTokenInQuery,
    Reason::kTokenMissing,
    Reason::kTokenAmbiguous,
    Reason::kTokenMalformed,
    Reason::kTokenUnknown,
    Reason::kTokenExpired,
    Reason::kTokenRevoked,
    Reason::kTokenKindMismatch,
    Reason::kEndpointUnknown,
    Reason::kEndpointNotSupported,
    Reason::kScopeMissing,
    Reason::kResourceNotAllowed,
    Reason::kAuthorityUnavailable,
    Reason::kTokenInPath,
    Reason::kRequestInvalid,
    Reason::kBodyTooLarge,
    Reason::kExpectationFailed,
    Reason::kRateLimited,
    Reason::kHeadersTooLarge,
    Reason::kInternalError,
    Reason::kUpstreamUnavailable,
    Reason::kOverloaded,
    Reason::kUpstreamTimeout,
    Reason::kClientClosed,
};

}  // namespace

absl::Span<const Reason> AllReasons() { return kAllReasons; }

absl::string_view ReasonCode(Reason reason) {
  switch (reason) {
    case Reason::kAllowed:
      return "allowed";
    case Reason::kPathInvalid:
      return "path_invalid";
    case Reason::kTokenInQuery:
      return "token_in_query";
    case Reason::kTokenMissing:
      return "token_missing";
    case Reason::kTokenAmbiguous:
      return "token_ambiguous";
    case Reason::kTokenMalformed:
      return "token_malformed";
    case Reason::kTokenUnknown:
      return "token_unknown";
    case Reason::kTokenExpired:
      return "token_expired";
    case Reason::kTokenRevoked:
      return "token_revoked";
    case Reason::kTokenKindMismatch:
      return "token_kind_mismatch";
    case Reason::kEndpointUnknown:
      return "endpoint_unknown";
    case Reason::kEndpointNotSupported:
      return "endpoint_not_supported";
    case Reason::kScopeMissing:
      return "scope_missing";
    case Reason::kResourceNotAllowed:
      return "resource_not_allowed";
    case Reason::kAuthorityUnavailable:
      return "authority_unavailable";
    case Reason::kTokenInPath:
      return "token_in_path";
    case Reason::kRequestInvalid:
      return "request_invalid";
    case Reason::kBodyTooLarge:
      return "body_too_large";
    case Reason::kExpectationFailed:
      return "expectation_failed";
    case Reason::kRateLimited:
      return "rate_limited";
    case Reason::kHeadersTooLarge:
      return "headers_too_large";
    case Reason::kInternalError:
      return "internal_error";
    case Reason::kUpstreamUnavailable:
      return "upstream_unavailable";
    case Reason::kOverloaded:
      return "overloaded";
    case Reason::kUpstreamTimeout:
      return "upstream_timeout";
    case Reason::kClientClosed:
      return "client_closed";
  }
  return "unknown";
}

std::optional<Reason> ReasonFromCode(absl::string_view code) {
  for (Reason r : kAllReasons) {
    if (ReasonCode(r) == code) return r;
  }
  return std::nullopt;
}

int ReasonHttpStatus(Reason reason) {
  switch (reason) {
    case Reason::kAllowed:
      return 200;
    case Reason::kPathInvalid:
    case Reason::kTokenInQuery:
    case Reason::kTokenInPath:
    case Reason::kRequestInvalid:
      return 400;
    case Reason::kTokenMissing:
    case Reason::kTokenAmbiguous:
    case Reason::kTokenMalformed:
    case Reason::kTokenUnknown:
    case Reason::kTokenExpired:
    case Reason::kTokenRevoked:
    case Reason::kTokenKindMismatch:
      return 401;
    case Reason::kEndpointUnknown:
    case Reason::kEndpointNotSupported:
    case Reason::kScopeMissing:
    case Reason::kResourceNotAllowed:
      return 403;
    case Reason::kAuthorityUnavailable:
    case Reason::kOverloaded:
      return 503;
    case Reason::kBodyTooLarge:
      return 413;
    case Reason::kExpectationFailed:
      return 417;
    case Reason::kRateLimited:
      return 429;
    case Reason::kHeadersTooLarge:
      return 431;
    case Reason::kInternalError:
      return 500;
    case Reason::kUpstreamUnavailable:
      return 502;
    case Reason::kUpstreamTimeout:
      return 504;
    case Reason::kClientClosed:
      return 499;
  }
  return 500;
}

absl::string_view ReasonMessage(Reason reason) {
  switch (reason) {
    case Reason::kAllowed:
      return "OK";
    case Reason::kPathInvalid:
      return "Invalid request path";
    case Reason::kTokenInQuery:
      return "Tokens are not accepted in the query string";
    case Reason::kTokenMissing:
      return "No token provided";
    case Reason::kTokenAmbiguous:
      return "More than one token provided";
    case Reason::kTokenMalformed:
    case Reason::kTokenUnknown:
      return "Invalid token";
    case Reason::kTokenExpired:
      return "Token expired";
    case Reason::kTokenRevoked:
      return "Token revoked";
    case Reason::kTokenKindMismatch:
      return "Token is not valid for this API";
    case Reason::kEndpointUnknown:
      return "Endpoint not available";
    case Reason::kEndpointNotSupported:
      return "Endpoint not supported for plan access tokens";
    case Reason::kScopeMissing:
      return "Token lacks a required scope";
    case Reason::kResourceNotAllowed:
      return "Token may not access this resource";
    case Reason::kAuthorityUnavailable:
      return "Token authority unavailable";
    case Reason::kTokenInPath:
      return "Tokens are not accepted in the path";
    case Reason::kRequestInvalid:
      return "Malformed or ambiguous HTTP request";
    case Reason::kBodyTooLarge:
      return "Request body too large";
    case Reason::kExpectationFailed:
      return "Only Expect: 100-continue is supported";
    case Reason::kRateLimited:
      return "Too many token lookups in progress for this client";
    case Reason::kHeadersTooLarge:
      return "Request header fields too large";
    case Reason::kInternalError:
      return "Internal error";
    case Reason::kUpstreamUnavailable:
      return "Upstream unavailable";
    case Reason::kOverloaded:
      return "The sidecar is at its connection or memory limit";
    case Reason::kUpstreamTimeout:
      return "Upstream did not answer in time";
    case Reason::kClientClosed:
      return "Client closed the connection";
  }
  return "Error";
}

absl::string_view WwwAuthenticate(Reason reason) {
  return ReasonHttpStatus(reason) == 401 ? kWwwAuthenticateInvalidToken
                                         : absl::string_view();
}

}  // namespace pat::policy
