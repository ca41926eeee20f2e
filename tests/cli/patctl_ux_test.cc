// Pure helpers of patctl's interface (cli/patctl_ux.h).

#include "cli/patctl_ux.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::patctl {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kCommands = {
    "upsert-plan", "upsert-resource", "delete-resource", "list-plans",
    "create",      "get",             "list",            "update",
    "refresh",     "revoke",          "audit",           "check",
    "validate",    "help",            "completion",      "version"};

TEST(DidYouMean, TyposOfEveryKindFindTheCommand) {
  EXPECT_EQ(DidYouMean("lst", kCommands), "list");          // deletion
  EXPECT_EQ(DidYouMean("lisst", kCommands), "list");        // insertion
  EXPECT_EQ(DidYouMean("revokr", kCommands), "revoke");     // substitution
  EXPECT_EQ(DidYouMean("crate", kCommands), "create");
  EXPECT_EQ(DidYouMean("valdiate", kCommands), "validate");  // transposition
  EXPECT_EQ(DidYouMean("LIST", kCommands), "list");          // case
  EXPECT_EQ(DidYouMean("upsert-pla", kCommands), "upsert-plan");
  EXPECT_EQ(DidYouMean("list-plan", kCommands), "list-plans");
}

TEST(DidYouMean, FarInputsSuggestNothing) {
  EXPECT_EQ(DidYouMean("frobnicate", kCommands), std::nullopt);
  EXPECT_EQ(DidYouMean("xyz", kCommands), std::nullopt);
  EXPECT_EQ(DidYouMean("", kCommands), std::nullopt);
  EXPECT_EQ(DidYouMean("a", {}), std::nullopt);
}

TEST(RenderTable, AlignedWithHeaderOnATerminalTsvWhenPiped) {
  const std::vector<std::string> header = {"id", "name"};
  const std::vector<std::vector<std::string>> rows = {{"tok_a", "ci"},
                                                      {"tok_bbbb", "deploy x"}};
  EXPECT_EQ(RenderTable(header, rows, /*aligned=*/true),
            "ID        NAME\n"
            "tok_a     ci\n"
            "tok_bbbb  deploy x\n");
  EXPECT_EQ(RenderTable(header, rows, /*aligned=*/false),
            "tok_a\tci\ntok_bbbb\tdeploy x\n");
  EXPECT_EQ(RenderTable(header, {}, true), "ID  NAME\n");
  EXPECT_EQ(RenderTable(header, {}, false), "");
}

TEST(ParseConfigFile, EverySeparatorCommentAndQuote) {
  ConfigFile c = ParseConfigFile(
      "# patctl\n\nauthority = a:1\nactor: alice # me\ninsecure true\n"
      "tls_ca=\"/etc/ca.pem\"\n  timeout =  5s  \n");
  ASSERT_EQ(c.error, "");
  EXPECT_EQ(c.values["authority"], "a:1");
  EXPECT_EQ(c.values["actor"], "alice");
  EXPECT_EQ(c.values["insecure"], "true");
  EXPECT_EQ(c.values["tls_ca"], "/etc/ca.pem");
  EXPECT_EQ(c.values["timeout"], "5s");
  for (absl::string_view key : kConfigKeys) {
    ConfigFile one = ParseConfigFile(absl::StrCat(key, " = x\n"));
    EXPECT_EQ(one.error, "") << key;
  }
}

TEST(ParseConfigFile, ErrorsNameTheLine) {
  EXPECT_THAT(ParseConfigFile("authority = x\ncolour = blue\n").error,
              HasSubstr("line 2: unknown setting \"colour\""));
  EXPECT_THAT(ParseConfigFile("\n\njustakey\n").error,
              HasSubstr("line 3: expected"));
  // Not a place for secrets or ids: only connection settings.
  EXPECT_THAT(ParseConfigFile("plan = 1\n").error, HasSubstr("unknown setting"));
}

TEST(ConnectionHint, TlsHandshakeWithoutInsecure) {
  for (const char* message :
       {"failed to connect to all addresses; last error: UNKNOWN: "
        "ipv4:127.0.0.1:7443: Ssl handshake failed: SSL_ERROR_SSL: "
        "error:0A00010B:SSL routines::wrong version number",
        "Handshake failed", "certificate verify failed"}) {
    const std::string hint = ConnectionHint(message, false, "h:1");
    EXPECT_THAT(hint, HasSubstr("TLS handshake with h:1 failed")) << message;
    EXPECT_THAT(hint, HasSubstr("--insecure")) << message;
  }
}

TEST(ConnectionHint, PlaintextToATlsServerAndNothingListening) {
  EXPECT_THAT(ConnectionHint("Socket closed", true, "h:1"),
              HasSubstr("drop --insecure"));
  EXPECT_THAT(ConnectionHint("failed to connect to all addresses; last error: "
                             "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to "
                             "remote host: Connection refused",
                             true, "h:1"),
              HasSubstr("nothing answers at h:1"));
  EXPECT_EQ(ConnectionHint("Deadline Exceeded", true, "h:1"), "");
}

TEST(DeprecatedScopes, WarnsOnlyForDeprecatedOnes) {
  EXPECT_TRUE(DeprecatedScopeWarnings({"file_content:read"}).empty());
  std::vector<std::string> w =
      DeprecatedScopeWarnings({"file_content:read", "files:read"});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("files:read is deprecated"));
  EXPECT_THAT(w[0], HasSubstr("file_metadata:read"));
}

TEST(Completion, ScriptsNameEveryCommandAndFlag) {
  const std::string bash = BashCompletion({"list", "create"}, {"plan", "days"});
  EXPECT_THAT(bash, HasSubstr("compgen -W \"list create\""));
  EXPECT_THAT(bash, HasSubstr("--plan= --days= --help"));
  EXPECT_THAT(bash, HasSubstr("complete -F _patctl patctl"));
  const std::string zsh = ZshCompletion({"list", "create"}, {"plan"});
  EXPECT_THAT(zsh, HasSubstr("#compdef patctl"));
  EXPECT_THAT(zsh, HasSubstr("'1:command:(list create)'"));
  EXPECT_THAT(zsh, HasSubstr("'--plan=[plan]'"));
}

}  // namespace
}  // namespace pat::patctl
