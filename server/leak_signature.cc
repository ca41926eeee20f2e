#include "server/leak_signature.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "openssl/bio.h"
#include "openssl/ec.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/obj_mac.h"
#include "openssl/pem.h"

namespace pat {

struct LeakKeyring::Key {
  std::string id;
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr int kMaxSignatureB64 = 512;

// An EC P-256 public key from PEM (SubjectPublicKeyInfo), or null.
EVP_PKEY* ParseP256(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (pkey == nullptr) return nullptr;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1 ||
      absl::string_view(group, len) != SN_X9_62_prime256v1) {
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return nullptr;
  }
  return pkey;
}

absl::Status Refused() {
  return absl::UnauthenticatedError("request signature is not valid");
}

}  // namespace

LeakKeyring::~LeakKeyring() = default;

absl::StatusOr<std::unique_ptr<LeakKeyring>> LeakKeyring::FromJson(
    absl::string_view json_text) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() ||
      !doc.contains("public_keys") || !doc["public_keys"].is_array()) {
    return absl::InvalidArgumentError(
        "public keys: expected {\"public_keys\": [...]}");
  }
  const nlohmann::json& list = doc["public_keys"];
  if (list.empty() || list.size() > static_cast<size_t>(kMaxLeakKeys)) {
    return absl::InvalidArgumentError(
        absl::StrCat("public keys: expected 1 to ", kMaxLeakKeys, " keys"));
  }
  std::unique_ptr<LeakKeyring> ring(new LeakKeyring());
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& k = list[i];
    if (!k.is_object() || !k.contains("key_identifier") ||
        !k["key_identifier"].is_string() || !k.contains("key") ||
        !k["key"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "public keys: entry ", i, " needs string key_identifier and key"));
    }
    auto key = std::make_unique<Key>();
    key->id = k["key_identifier"].get<std::string>();
    if (key->id.empty() || key->id.size() > 256) {
      return absl::InvalidArgumentError(absl::StrCat(
          "public keys: entry ", i, ": key_identifier must be 1..256 bytes"));
    }
    for (const auto& other : ring->keys_) {
      if (other->id == key->id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "public keys: entry ", i, ": duplicate key_identifier"));
      }
    }
    key->pkey = ParseP256(k["key"].get<std::string>());
    if (key->pkey == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "public keys: entry ", i, ": key is not a PEM EC P-256 public key"));
    }
    ring->keys_.push_back(std::move(key));
  }
  return ring;
}

absl::Status LeakKeyring::Verify(absl::string_view key_id,
                                 absl::string_view signature_b64,
                                 absl::string_view body) const {
  const Key* key = nullptr;
  for (const auto& k : keys_) {
    if (k->id == key_id) key = k.get();
  }
  if (key == nullptr || signature_b64.empty() ||
      signature_b64.size() > static_cast<size_t>(kMaxSignatureB64)) {
    return Refused();
  }
  std::string der;
  if (!absl::Base64Unescape(signature_b64, &der) || der.empty()) {
    return Refused();
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return Refused();
  int ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                                key->pkey);
  if (ok == 1) {
    ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()),
                          der.size(),
                          reinterpret_cast<const unsigned char*>(body.data()),
                          body.size());
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok == 1 ? absl::OkStatus() : Refused();
}

}  // namespace pat
