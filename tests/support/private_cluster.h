#ifndef PAT_TESTS_SUPPORT_PRIVATE_CLUSTER_H_
#define PAT_TESTS_SUPPORT_PRIVATE_CLUSTER_H_

#include <memory>
#include <string>

namespace pat::testing {

// A private PostgreSQL cluster for one test (scripts/lib/pg.sh pg_start in a
// fresh temporary directory), for faults that must not touch the shared
// test cluster: restarts, a small max_connections. Removed on destruction.
class PrivateCluster {
 public:
  struct Options {
    int max_connections = 40;
  };
  // Null (with a test failure) when it cannot start.
  static std::unique_ptr<PrivateCluster> Start(const Options& options);
  ~PrivateCluster();

  // postgresql://postgres@127.0.0.1:<port>/postgres (a superuser).
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  // `pg_ctl restart -m fast`: every session is terminated, the server is
  // down for the restart, then accepts again on the same port. False (with
  // a test failure) when it fails.
  bool RestartFast();
  // Makes TestDatabase (PAT_TEST_DATABASE_URL) use this cluster for the
  // rest of the process.
  void UseForTestDatabases() const;

 private:
  PrivateCluster(std::string dir, std::string url, int port)
      : dir_(std::move(dir)), url_(std::move(url)), port_(port) {}
  const std::string dir_;
  const std::string url_;
  const int port_;
};

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_PRIVATE_CLUSTER_H_
