// pat-sample-upstream: a stand-in API that echoes every request as JSON (see
// tools/sample_upstream_server.h).
//
//   pat-sample-upstream --listen=127.0.0.1:9000
//
// With port 0 a free port is chosen. Once serving it prints
// {"msg":"listening","port":N} on stderr; it stops on SIGINT or SIGTERM.

#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "sidecar/proxy_server.h"
#include "tools/sample_upstream_server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:9000",
          "host:port to listen on (port 0: pick a free port)");
ABSL_FLAG(int, threads, 2, "worker threads");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A sample upstream API that echoes requests as JSON.\n"
      "  pat-sample-upstream --listen=127.0.0.1:9000");
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals before any thread starts, so that only sigwait()
  // below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  pat::tools::SampleUpstreamConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  config.threads = absl::GetFlag(FLAGS_threads);
  auto server = pat::tools::SampleUpstream::Create(config);
  if (!server.ok()) {
    std::fprintf(
        stderr, "{\"msg\":\"cannot start\",\"error\":%s}\n",
        pat::sidecar::internal::JsonQuote(server.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "{\"msg\":\"listening\",\"port\":%d}\n",
               (*server)->port());
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  (*server)->Shutdown();
  std::fprintf(stderr, "{\"msg\":\"stopped\"}\n");
  return 0;
}
