'use strict';
// verdaccio middleware plugin for the offline test registry: answers the npm
// audit endpoints with "no advisories" instead of verdaccio's audit
// middleware, which forwards them to the public registry (unreachable in the
// tests). Answers only what a real registry would answer for an empty
// advisory database; it never looks at the request body beyond draining it.
const QUICK_EMPTY = {
  actions: [],
  advisories: {},
  muted: [],
  metadata: {
    vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0 },
    dependencies: 0,
    devDependencies: 0,
    optionalDependencies: 0,
    totalDependencies: 0,
  },
};
const MAX_BODY = 16 << 20;

function answer(body) {
  return (req, res) => {
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
    });
    req.on('end', () => res.status(200).json(body));
  };
}

module.exports = function patOfflineAudit() {
  return {
    register_middlewares(app) {
      app.post('/-/npm/v1/security/advisories/bulk', answer({}));
      app.post('/-/npm/v1/security/audits/quick', answer(QUICK_EMPTY));
      app.post('/-/npm/v1/security/audits', answer(QUICK_EMPTY));
    },
  };
};
