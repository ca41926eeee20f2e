#include "tests/support/sidecar_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <future>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"
#include "sidecar/grpc_authority_client.h"
#include "sidecar/sidecar_config.h"

extern char** environ;

namespace pat::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

absl::Time NowMicros() {
  return absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
}

// --- HttpResponse
// -------------------------------------------------------------

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

int HttpResponse::HeaderCount(absl::string_view name) const {
  int count = 0;
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) ++count;
  }
  return count;
}

nlohmann::json HttpResponse::Json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string HttpResponse::Describe() const {
  if (status == 0) return absl::StrCat("no response (", error, ")");
  std::string out = absl::StrCat("HTTP ", status, "\n");
  for (const auto& [n, v] : headers) absl::StrAppend(&out, n, ": ", v, "\n");
  absl::StrAppend(&out, "\n", body.substr(0, 2000));
  return out;
}

namespace {

std::string S(beast::string_view s) { return std::string(s.data(), s.size()); }

HttpResponse FromBeast(const http::response<http::string_body>& res) {
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.headers.emplace_back(S(field.name_string()), S(field.value()));
  }
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  return out;
}

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// Runs `ioc` until `done` (the operation's handler ran). tcp_stream's
// expiry guarantees completion.
void RunUntil(asio::io_context& ioc, const bool& done) {
  ioc.restart();
  while (!done) {
    if (ioc.run_one() == 0) break;
  }
}

}  // namespace

// --- HttpClient
// ---------------------------------------------------------------

struct HttpClient::Impl {
  Impl(int port, absl::Duration timeout)
      : endpoint(asio::ip::make_address("127.0.0.1"),
                 static_cast<unsigned short>(port)),
        timeout(timeout) {}

  void Reset() {
    if (stream.has_value()) {
      error_code ignored;
      stream->socket().close(ignored);
    }
    stream.reset();
    buffer.clear();
  }

  asio::io_context ioc;
  tcp::endpoint endpoint;
  absl::Duration timeout;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(int port, absl::Duration timeout)
    : impl_(std::make_unique<Impl>(port, timeout)) {}

HttpClient::~HttpClient() { impl_->Reset(); }

HttpResponse HttpClient::Send(absl::string_view method,
                              absl::string_view target,
                              const HeaderList& headers,
                              absl::string_view body) {
  Impl& s = *impl_;
  HttpResponse failed;
  error_code ec;
  bool done = false;
  if (!s.stream.has_value()) {
    s.stream.emplace(s.ioc);
    s.stream->expires_after(ToChrono(s.timeout));
    s.stream->async_connect(s.endpoint, [&](error_code e) {
      ec = e;
      done = true;
    });
    RunUntil(s.ioc, done);
    if (ec || !done) {
      failed.error = absl::StrCat("connect: ", ec.message());
      s.Reset();
      return failed;
    }
  }
  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(http::field::host, "api.test");
  for (const auto& [name, value] : headers) req.insert(name, value);
  if (!body.empty()) {
    req.body() = std::string(body);
    req.prepare_payload();
  }
  done = false;
  s.stream->expires_after(ToChrono(s.timeout));
  http::async_write(*s.stream, req, [&](error_code e, size_t) {
    ec = e;
    done = true;
  });
  RunUntil(s.ioc, done);
  if (ec || !done) {
    failed.error = absl::StrCat("write: ", ec.message());
    s.Reset();
    return failed;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  done = false;
  s.stream->expires_after(ToChrono(s.timeout));
  http::async_read(*s.stream, s.buffer, parser, [&](error_code e, size_t) {
    ec = e;
    done = true;
  });
  RunUntil(s.ioc, done);
  if (ec || !done) {
    failed.error = absl::StrCat("read: ", ec.message());
    s.Reset();
    return failed;
  }
  HttpResponse out = FromBeast(parser.get());
  if (!out.keep_alive) s.Reset();
  return out;
}

HttpResponse HttpCall(int port, absl::string_view method,
                      absl::string_view target, const HeaderList& headers,
                      absl::string_view body) {
  HttpClient client(port);
  return client.Send(method, target, headers, body);
}

// --- RawConnection
// ------------------------------------------------------------

struct RawConnection::Impl {
  explicit Impl(int port) : stream(ioc) {
    bool done = false;
    stream.expires_after(std::chrono::seconds(10));
    stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                       static_cast<unsigned short>(port)),
                         [&](error_code e) {
                           connect_error = e;
                           done = true;
                         });
    RunUntil(ioc, done);
    connected = done && !connect_error;
  }
  asio::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  error_code connect_error;
  bool connected = false;
};

RawConnection::RawConnection(int port) : impl_(std::make_unique<Impl>(port)) {}

RawConnection::~RawConnection() {
  error_code ignored;
  impl_->stream.socket().close(ignored);
}

bool RawConnection::connected() const { return impl_->connected; }

bool RawConnection::Send(absl::string_view bytes, absl::Duration timeout) {
  if (!impl_->connected) return false;
  bool done = false;
  error_code ec;
  impl_->stream.expires_after(ToChrono(timeout));
  asio::async_write(impl_->stream, asio::buffer(bytes.data(), bytes.size()),
                    [&](error_code e, size_t) {
                      ec = e;
                      done = true;
                    });
  RunUntil(impl_->ioc, done);
  return done && !ec;
}

HttpResponse RawConnection::ReadResponse(absl::Duration timeout) {
  HttpResponse failed;
  if (!impl_->connected) {
    failed.error = "not connected";
    return failed;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bool done = false;
  error_code ec;
  impl_->stream.expires_after(ToChrono(timeout));
  http::async_read(impl_->stream, impl_->buffer, parser,
                   [&](error_code e, size_t) {
                     ec = e;
                     done = true;
                   });
  RunUntil(impl_->ioc, done);
  if (!done || ec) {
    failed.error = ec.message();
    return failed;
  }
  return FromBeast(parser.get());
}

bool RawConnection::ClosedByPeer(absl::Duration timeout) {
  if (!impl_->connected) return true;
  if (impl_->buffer.size() > 0) return false;
  const int fd = impl_->stream.socket().native_handle();
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    return false;  // more bytes
  }
}

std::string RawRequest(absl::string_view method, absl::string_view target,
                       const std::vector<std::string>& lines,
                       absl::string_view body) {
  std::string out = absl::StrCat(method, " ", target, " HTTP/1.1\r\n");
  absl::StrAppend(&out, "Host: api.test\r\n");
  for (const std::string& line : lines) absl::StrAppend(&out, line, "\r\n");
  absl::StrAppend(&out, "\r\n", body);
  return out;
}

int64_t UpstreamCount(int upstream_port) {
  HttpResponse r = HttpGet(upstream_port, "/__pat_sample/count");
  if (r.status != 200) return -1;
  const nlohmann::json j = r.Json();
  if (!j.is_object() || !j.contains("count")) return -1;
  return j["count"].get<int64_t>();
}

std::vector<std::string> EchoedHeader(const nlohmann::json& echo,
                                      const std::string& name) {
  std::vector<std::string> out;
  if (!echo.is_object() || !echo.contains("headers") ||
      !echo["headers"].contains(name)) {
    return out;
  }
  for (const auto& v : echo["headers"][name])
    out.push_back(v.get<std::string>());
  return out;
}

bool ContainsSecretShape(absl::string_view text) {
  for (absl::string_view prefix : {"pat_rest_", "pat_npm_"}) {
    size_t pos = 0;
    while ((pos = text.find(prefix, pos)) != absl::string_view::npos) {
      const size_t start = pos + prefix.size();
      size_t n = 0;
      while (start + n < text.size() && n < 49 &&
             absl::ascii_isalnum(static_cast<unsigned char>(text[start + n]))) {
        ++n;
      }
      if (n == 49) return true;
      pos = start;
    }
  }
  return false;
}

// --- SidecarStack
// -------------------------------------------------------------

std::unique_ptr<SidecarStack> SidecarStack::Start(
    AuthorityHarness& authority, const SidecarStackOptions& options) {
  SidecarStackOptions o = options;
  if (o.authority_target.empty()) o.authority_target = authority.target();
  return Start(authority.clock(), o);
}

std::unique_ptr<SidecarStack> SidecarStack::Start(
    const Clock& clock, const SidecarStackOptions& options) {
  std::unique_ptr<SidecarStack> stack(new SidecarStack(clock));
  stack->StartInto(options, options.authority_target);
  if (::testing::Test::HasFatalFailure()) return nullptr;
  if (options.wait_for_sync && !stack->WaitForSync()) {
    ADD_FAILURE() << "the sidecar did not sync with the authority";
    return nullptr;
  }
  return stack;
}

void SidecarStack::StartInto(const SidecarStackOptions& options,
                             const std::string& target) {
  using namespace sidecar;  // NOLINT(build/namespaces)
  ASSERT_FALSE(target.empty()) << "no authority target";

  tools::SampleUpstreamConfig upstream_config;
  upstream_config.listen = "127.0.0.1:0";
  auto upstream = tools::SampleUpstream::Create(upstream_config);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  upstream_ = *std::move(upstream);

  SidecarConfig raw;
  raw.listen = "127.0.0.1:0";
  raw.admin_listen = "127.0.0.1:0";
  raw.upstream = absl::StrCat("http://127.0.0.1:", upstream_->port());
  raw.authority = target;
  raw.insecure = true;
  raw.api = options.api == TokenKind::kNpmRegistry ? "npm" : "rest";
  raw.staleness_bound = options.staleness_bound;
  raw.cache_mode = options.cache_mode;
  raw.workers = 4;
  auto config = ValidateSidecarConfig(std::move(raw));
  ASSERT_TRUE(config.ok()) << config.status();

  SidecarDeps deps{.clock = clock_};
  deps.access_log_sink = [this](absl::string_view line) {
    absl::MutexLock lock(&log_mu_);
    log_.emplace_back(line);
  };
  deps.miss_limits = options.miss_limits;
  deps.usage.flush_interval = options.usage_flush_interval;
  AuthorityClientConfig client_config;
  client_config.target = target;
  client_config.insecure = true;
  client_config.rpc_timeout = options.rpc_timeout;
  deps.authority_client_factory = [client_config](MetricsRegistry& metrics) {
    return GrpcAuthorityClient::Create(client_config, metrics);
  };
  auto server = SidecarServer::Create(*config, std::move(deps));
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
}

SidecarStack::~SidecarStack() {
  // Stop the sidecar (SidecarServer::Shutdown's order), then its upstream.
  server_.reset();
  if (upstream_ != nullptr) upstream_->Shutdown();
  upstream_.reset();
}

int SidecarStack::port() const { return server_->port(); }
int SidecarStack::admin_port() const { return server_->admin_port(); }
int SidecarStack::upstream_port() const { return upstream_->port(); }

bool SidecarStack::WaitForSync(absl::Duration timeout) const {
  return WaitFor([this] { return server_->grants().synced(); }, timeout);
}

bool SidecarStack::Ready() const {
  return HttpGet(admin_port(), "/readyz").status == 200;
}

std::vector<std::string> SidecarStack::access_log() const {
  absl::MutexLock lock(&log_mu_);
  return log_;
}

// --- TcpRelay
// -----------------------------------------------------------------

namespace {

// One relayed connection: client <-> target.
class RelayPair : public std::enable_shared_from_this<RelayPair> {
 public:
  RelayPair(tcp::socket client, asio::io_context& ioc)
      : client_(std::move(client)), server_(ioc) {}

  void Start(const tcp::endpoint& target) {
    auto self = shared_from_this();
    server_.async_connect(target, [self](error_code ec) {
      if (ec) {
        self->Close();
        return;
      }
      self->Pump(self->client_, self->server_, self->up_);
      self->Pump(self->server_, self->client_, self->down_);
    });
  }

  void Close() {
    error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
  }

 private:
  using Buffer = std::array<char, 16 * 1024>;
  void Pump(tcp::socket& from, tcp::socket& to, Buffer& buf) {
    auto self = shared_from_this();
    from.async_read_some(
        asio::buffer(buf), [self, &from, &to, &buf](error_code ec, size_t n) {
          if (ec) {
            self->Close();
            return;
          }
          asio::async_write(to, asio::buffer(buf.data(), n),
                            [self, &from, &to, &buf](error_code wec, size_t) {
                              if (wec) {
                                self->Close();
                                return;
                              }
                              self->Pump(from, to, buf);
                            });
        });
  }

  tcp::socket client_;
  tcp::socket server_;
  Buffer up_;
  Buffer down_;
};

}  // namespace

struct TcpRelay::Impl {
  explicit Impl(int target_port)
      : work(asio::make_work_guard(ioc)),
        acceptor(ioc),
        target(asio::ip::make_address("127.0.0.1"),
               static_cast<unsigned short>(target_port)) {}

  bool Open(int listen_port) {
    error_code ec;
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"),
                           static_cast<unsigned short>(listen_port));
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return false;
    port = acceptor.local_endpoint().port();
    Accept();
    return true;
  }

  void Accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec) return;  // closed by Cut()
      auto pair = std::make_shared<RelayPair>(std::move(socket), ioc);
      pairs.push_back(pair);
      pair->Start(target);
      Accept();
    });
  }

  // Runs `fn` on the relay's thread and waits for it.
  template <typename Fn>
  void RunOnThread(Fn fn) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::acceptor acceptor;
  tcp::endpoint target;
  int port = 0;
  std::vector<std::weak_ptr<RelayPair>> pairs;  // relay thread only
  std::thread thread;
};

TcpRelay::TcpRelay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<TcpRelay> TcpRelay::Start(int target_port) {
  auto impl = std::make_unique<Impl>(target_port);
  if (!impl->Open(0)) {
    ADD_FAILURE() << "TcpRelay: cannot listen";
    return nullptr;
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<TcpRelay>(new TcpRelay(std::move(impl)));
}

TcpRelay::~TcpRelay() {
  Cut();
  impl_->work.reset();
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int TcpRelay::port() const { return impl_->port; }

std::string TcpRelay::target() const {
  return absl::StrCat("127.0.0.1:", impl_->port);
}

void TcpRelay::Cut() {
  Impl* s = impl_.get();
  s->RunOnThread([s] {
    error_code ignored;
    s->acceptor.close(ignored);
    for (auto& weak : s->pairs) {
      if (auto pair = weak.lock()) pair->Close();
    }
    s->pairs.clear();
  });
}

void TcpRelay::Restore() {
  Impl* s = impl_.get();
  bool ok = false;
  s->RunOnThread([s, &ok] {
    if (s->acceptor.is_open()) {
      ok = true;
      return;
    }
    ok = s->Open(s->port);
  });
  EXPECT_TRUE(ok) << "TcpRelay: cannot listen again on port " << s->port;
}

// --- Subprocess
// ---------------------------------------------------------------

std::string BinaryFromEnv(const char* variable) {
  const char* value = std::getenv(variable);
  return value == nullptr ? "" : value;
}

std::unique_ptr<Subprocess> Subprocess::Start(
    const std::string& binary, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return nullptr;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  // stdout and stderr both captured: nothing a binary prints escapes the
  // secret-exposure checks.
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);

  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "PAT_")) env_storage.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr,
                             argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return nullptr;
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid, fds[0]));
}

Subprocess::Subprocess(pid_t pid, int fd) : pid_(pid), fd_(fd) {
  reader_ = std::thread([this] { ReadLoop(); });
}

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (reader_.joinable()) reader_.join();
  close(fd_);
}

void Subprocess::ReadLoop() {
  char chunk[8192];
  while (true) {
    const ssize_t n = read(fd_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      eof_ = true;
      return;
    }
    output_.append(chunk, static_cast<size_t>(n));
  }
}

std::optional<nlohmann::json> Subprocess::WaitForLog(absl::string_view msg,
                                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t scanned = 0;  // complete lines before this offset were checked
  absl::MutexLock lock(&mu_);
  while (true) {
    size_t newline;
    while ((newline = output_.find('\n', scanned)) != std::string::npos) {
      const std::string line = output_.substr(scanned, newline - scanned);
      scanned = newline + 1;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("msg") && j["msg"].is_string() &&
          j["msg"].get<std::string>() == msg) {
        return j;
      }
    }
    if (eof_) return std::nullopt;
    const size_t size = output_.size();
    auto changed = [this, size]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return eof_ || output_.size() != size;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&changed), deadline)) {
      return std::nullopt;
    }
  }
}

std::string Subprocess::Output() const {
  absl::MutexLock lock(&mu_);
  return output_;
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  const bool exited =
      WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!exited) return std::nullopt;
  pid_ = -1;
  // The child's last lines may still be in the pipe: Output() after Wait()
  // holds everything it wrote (bounded, in case a grandchild holds the
  // pipe open).
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&eof_), absl::Seconds(10));
  return status;
}

// --- ServiceProcess
// -----------------------------------------------------------

std::unique_ptr<ServiceProcess> ServiceProcess::Start(
    std::string name, std::string binary, std::vector<std::string> args,
    absl::Duration timeout) {
  if (binary.empty()) {
    ADD_FAILURE() << name << ": binary path not set";
    return nullptr;
  }
  std::unique_ptr<ServiceProcess> p(
      new ServiceProcess(std::move(name), std::move(binary), std::move(args)));
  if (!p->Launch(timeout)) return nullptr;
  return p;
}

ServiceProcess::~ServiceProcess() { Stop(); }

std::string ServiceProcess::target() const {
  return absl::StrCat("127.0.0.1:", port_);
}

pid_t ServiceProcess::pid() const {
  return process_ == nullptr ? -1 : process_->pid();
}

bool ServiceProcess::Launch(absl::Duration timeout) {
  process_ = Subprocess::Start(binary_, args_);
  if (process_ == nullptr) {
    ADD_FAILURE() << name_ << ": cannot spawn " << binary_;
    return false;
  }
  std::optional<nlohmann::json> listening =
      process_->WaitForLog("listening", timeout);
  if (!listening.has_value() || !listening->contains("port")) {
    ADD_FAILURE() << name_ << " did not report listening; output:\n"
                  << process_->Output();
    Stop();
    return false;
  }
  port_ = listening->value("port", 0);
  admin_port_ = listening->value("admin_port", 0);
  return port_ > 0;
}

void ServiceProcess::Stop(int sig) {
  if (process_ == nullptr) return;
  process_->Signal(sig);
  if (!process_->Wait(absl::Seconds(30)).has_value()) {
    ADD_FAILURE() << name_ << " did not exit on signal " << sig;
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(30));
  }
  std::string logs = process_->Output();
  process_.reset();  // joins the reader: the pipe is at EOF
  previous_logs_ += logs;
}

bool ServiceProcess::Restart(std::vector<std::string> args) {
  Stop();
  if (!args.empty()) args_ = std::move(args);
  return Launch(absl::Seconds(30));
}

std::string ServiceProcess::Logs() const {
  return previous_logs_ + (process_ == nullptr ? "" : process_->Output());
}

// --- BinaryStack
// --------------------------------------------------------------

namespace {

std::unique_ptr<grpc::ClientContext> ActorContext(absl::string_view actor) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!actor.empty()) ctx->AddMetadata("x-pat-actor", std::string(actor));
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return ctx;
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat("code ", static_cast<int>(s.error_code()), ": ",
                      s.error_message());
}

}  // namespace

std::unique_ptr<BinaryStack> BinaryStack::Start(
    const BinaryStackOptions& options) {
  std::unique_ptr<BinaryStack> stack(new BinaryStack());
  stack->StartInto(options);
  if (::testing::Test::HasFatalFailure()) return nullptr;
  return stack;
}

void BinaryStack::StartInto(const BinaryStackOptions& options) {
  const std::string authority_bin = BinaryFromEnv("PAT_AUTHORITY_BIN");
  const std::string sidecar_bin = BinaryFromEnv("PAT_SIDECAR_BIN");
  const std::string upstream_bin = BinaryFromEnv("PAT_SAMPLE_UPSTREAM_BIN");
  ASSERT_FALSE(authority_bin.empty()) << "PAT_AUTHORITY_BIN is not set";
  ASSERT_FALSE(sidecar_bin.empty()) << "PAT_SIDECAR_BIN is not set";
  ASSERT_FALSE(upstream_bin.empty()) << "PAT_SAMPLE_UPSTREAM_BIN is not set";

  absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = *std::move(db);

  authority_ = ServiceProcess::Start(
      "pat-authority", authority_bin,
      {"--insecure", "--listen=127.0.0.1:0",
       absl::StrCat("--database_url=", db_->url()), "--auto_migrate"});
  ASSERT_NE(authority_, nullptr);
  // Restarts keep the port the sidecar is told about.
  authority_->set_args(
      {"--insecure", absl::StrCat("--listen=127.0.0.1:", authority_->port()),
       absl::StrCat("--database_url=", db_->url()), "--auto_migrate"});

  upstream_ = ServiceProcess::Start("pat-sample-upstream", upstream_bin,
                                    {"--listen=127.0.0.1:0"});
  ASSERT_NE(upstream_, nullptr);

  sidecar_ = ServiceProcess::Start(
      "pat-sidecar", sidecar_bin,
      {"--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0",
       absl::StrCat("--upstream=http://127.0.0.1:", upstream_->port()),
       absl::StrCat("--authority=", authority_->target()), "--insecure",
       absl::StrCat("--api=", options.api),
       absl::StrCat("--staleness_bound=",
                    absl::FormatDuration(options.staleness_bound))});
  ASSERT_NE(sidecar_, nullptr);
  ASSERT_GT(sidecar_->admin_port(), 0);

  channel_ = grpc::CreateChannel(authority_->target(),
                                 grpc::InsecureChannelCredentials());
  tokens_ = pat::v1::TokenService::NewStub(channel_);
  directory_ = pat::v1::DirectoryService::NewStub(channel_);
}

BinaryStack::~BinaryStack() {
  // The sidecar first (it talks to both), the authority before its
  // database is dropped.
  sidecar_.reset();
  upstream_.reset();
  authority_.reset();
}

void BinaryStack::SeedWorld() {
  namespace v1 = ::pat::v1;
  auto plan = [&](const char* id, v1::PlanTier tier, const char* admin) {
    v1::UpsertPlanRequest req;
    req.mutable_plan()->set_id(id);
    req.mutable_plan()->set_name(absl::StrCat("plan ", id));
    req.mutable_plan()->set_tier(tier);
    req.mutable_plan()->add_admin_user_ids(admin);
    v1::Plan resp;
    grpc::Status s = directory_->UpsertPlan(ActorContext("").get(), req, &resp);
    ASSERT_TRUE(s.ok()) << "UpsertPlan " << id << ": " << Describe(s);
  };
  auto resource = [&](const char* plan_id, v1::ResourceKind kind,
                      const char* id, v1::ResourceKind parent_kind,
                      const char* parent_id) {
    v1::UpsertResourceRequest req;
    v1::Resource* r = req.mutable_resource();
    r->set_plan_id(plan_id);
    r->set_kind(kind);
    r->set_id(id);
    r->set_parent_kind(parent_kind);
    r->set_parent_id(parent_id);
    r->set_name(absl::StrCat("resource ", id));
    v1::Resource resp;
    grpc::Status s =
        directory_->UpsertResource(ActorContext("").get(), req, &resp);
    ASSERT_TRUE(s.ok()) << "UpsertResource " << id << ": " << Describe(s);
  };
  constexpr auto kNone = v1::RESOURCE_KIND_UNSPECIFIED;
  plan("1111111111", v1::PLAN_TIER_ORGANIZATION, "alice");
  plan("2222222222", v1::PLAN_TIER_ENTERPRISE, "bob");
  resource("1111111111", v1::RESOURCE_KIND_WORKSPACE, "wsA", kNone, "");
  resource("1111111111", v1::RESOURCE_KIND_TEAM, "teamA",
           v1::RESOURCE_KIND_WORKSPACE, "wsA");
  resource("1111111111", v1::RESOURCE_KIND_PROJECT, "projA",
           v1::RESOURCE_KIND_TEAM, "teamA");
  resource("1111111111", v1::RESOURCE_KIND_FILE, "FILEA1",
           v1::RESOURCE_KIND_PROJECT, "projA");
  resource("1111111111", v1::RESOURCE_KIND_FILE, "FILEA2",
           v1::RESOURCE_KIND_PROJECT, "projA");
  resource("2222222222", v1::RESOURCE_KIND_WORKSPACE, "wsB", kNone, "");
  resource("2222222222", v1::RESOURCE_KIND_TEAM, "teamB",
           v1::RESOURCE_KIND_WORKSPACE, "wsB");
  resource("2222222222", v1::RESOURCE_KIND_PROJECT, "projB",
           v1::RESOURCE_KIND_TEAM, "teamB");
  resource("2222222222", v1::RESOURCE_KIND_FILE, "FILEB1",
           v1::RESOURCE_KIND_PROJECT, "projB");
  // The sidecar decides resources from its copy of the directory, fed by
  // the watch: wait until the nine resources have arrived.
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(SidecarMetrics(),
                                 "\npat_sidecar_directory_size 9\n");
      },
      absl::Seconds(15)))
      << "the sidecar's directory copy did not catch up";
}

bool BinaryStack::SidecarReady() const {
  return HttpGet(sidecar_->admin_port(), "/readyz").status == 200;
}

std::string BinaryStack::SidecarMetrics() const {
  return HttpGet(sidecar_->admin_port(), "/metrics").body;
}

pat::v1::CreateTokenResponse CreateTokenVia(
    pat::v1::TokenService::Stub& tokens, absl::string_view actor,
    const pat::v1::CreateTokenRequest& request) {
  pat::v1::CreateTokenResponse resp;
  grpc::Status s =
      tokens.CreateToken(ActorContext(actor).get(), request, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "CreateToken: " << Describe(s);
    return pat::v1::CreateTokenResponse();
  }
  return resp;
}

pat::v1::Token RevokeTokenVia(pat::v1::TokenService::Stub& tokens,
                              absl::string_view actor,
                              absl::string_view plan_id,
                              absl::string_view token_id) {
  pat::v1::RevokeTokenRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_token_id(std::string(token_id));
  pat::v1::Token resp;
  grpc::Status s = tokens.RevokeToken(ActorContext(actor).get(), req, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "RevokeToken " << token_id << ": " << Describe(s);
    return pat::v1::Token();
  }
  return resp;
}

pat::v1::RefreshTokenResponse RefreshTokenVia(
    pat::v1::TokenService::Stub& tokens, absl::string_view actor,
    absl::string_view plan_id, absl::string_view token_id) {
  static std::atomic<int> counter{0};
  pat::v1::RefreshTokenRequest req;
  req.set_plan_id(std::string(plan_id));
  req.set_token_id(std::string(token_id));
  req.set_request_id(absl::StrCat("e2e-refresh-", getpid(), "-", ++counter));
  pat::v1::RefreshTokenResponse resp;
  grpc::Status s = tokens.RefreshToken(ActorContext(actor).get(), req, &resp);
  if (!s.ok()) {
    ADD_FAILURE() << "RefreshToken " << token_id << ": " << Describe(s);
    return pat::v1::RefreshTokenResponse();
  }
  return resp;
}

}  // namespace pat::testing
