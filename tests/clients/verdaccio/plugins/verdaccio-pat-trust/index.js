'use strict';
// verdaccio middleware plugin: the registry trusts pat-sidecar, and only it.
//
// pat-sidecar removes the client's credential (Authorization, X-Figma-Token)
// and every client-sent X-Pat-* header, decides the request against the plan
// token, and forwards allowed requests with X-Pat-Token-Id / X-Pat-Plan-Id.
// This plugin makes verdaccio act on that decision: a request from loopback
// carrying a well-formed X-Pat-Token-Id is the user "<token id>" in the group
// "pat"; every other request is refused (403) before verdaccio's own routes.
// config.yaml grants access/publish/unpublish to the group "pat" only.
//
// SAFE ONLY BEHIND THE SIDECAR: anything that can open a TCP connection to
// verdaccio's loopback port can claim any token id. verdaccio must listen on
// 127.0.0.1 (or ::1) in the same pod/network namespace as pat-sidecar, and
// nothing else may be able to reach that port.
const { createRemoteUser } = require('@verdaccio/config');

const TOKEN_ID = /^tok_[0-9A-Za-z]{22}$/;
const PLAN_ID = /^[0-9A-Za-z_-]{1,64}$/;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function header(req, name) {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;  // a repeated header is refused
}

module.exports = function patTrust(_config, options) {
  const logger = options && options.logger;
  return {
    register_middlewares(app) {
      app.use((req, res, next) => {
        const tokenId = header(req, 'x-pat-token-id');
        const planId = header(req, 'x-pat-plan-id');
        if (!LOOPBACK.has(req.socket.remoteAddress) || !tokenId ||
            !TOKEN_ID.test(tokenId) || !planId || !PLAN_ID.test(planId)) {
          if (logger) logger.warn({ url: req.path }, 'pat-trust: refused a request that did not come through pat-sidecar');
          res.status(403).json({ error: 'this registry only accepts requests forwarded by pat-sidecar' });
          return;
        }
        req.remote_user = createRemoteUser(tokenId, ['pat', `pat-plan-${planId}`]);
        next();
      });
    },
  };
};
