// The collection's pre-request script (kept in postman/mcp-helpers.js too, where eslint checks it).
// Request scripts cannot see functions defined here, so the helpers travel as source text in a
// variable; a request script gets them with: const mcp = eval(pm.variables.get('mcpHelpers'));
const mcpHelpers = function () {
  /** The JSON-RPC messages in a body: one JSON object, or the `data:` lines of an SSE stream. */
  function messages(body) {
    const text = String(body || '').trim();
    if (text.startsWith('{') || text.startsWith('[')) return [].concat(JSON.parse(text));
    return text
      .split(/\r?\n\r?\n/)
      .map((event) =>
        event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice('data:'.length))
          .join('\n'),
      )
      .filter((data) => data.trim() !== '')
      .map((data) => JSON.parse(data));
  }

  /** The reply to request `id`. Ids match only with the same JSON type: 42 is not "42". */
  function reply(body, id) {
    return messages(body).find((m) => m.id === id && ('result' in m || 'error' in m));
  }

  /** The server's record of tools/call `requestId` (get_job_status), or undefined if it has none. */
  function jobStatus(requestId, callback) {
    // A fresh id each time: a session must not reuse a request id.
    const id = 'job-status-' + Math.random().toString(36).slice(2);
    const message = {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'get_job_status', arguments: { requestId } },
    };
    // pm.sendRequest does not expand {{variables}}: read them. It goes where the request being
    // sent goes (its folder's lessonNNUrl), so the status comes from the same server.
    const request = {
      url: pm.variables.replaceIn(pm.request.url.toString()),
      method: 'POST',
      header: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': pm.variables.get('sessionId'),
        'MCP-Protocol-Version': pm.variables.get('protocolVersion'),
      },
      body: { mode: 'raw', raw: JSON.stringify(message) },
    };
    pm.sendRequest(request, (error, response) => {
      const answer = error ? undefined : reply(response.text(), id);
      callback(answer && answer.result && !answer.result.isError ? answer.result.structuredContent : undefined);
    });
  }

  /** Asks get_job_status every 50 ms until `until(status)` holds or `timeoutMs` passes, then calls `done(status)`. */
  function pollJob(requestId, until, timeoutMs, done) {
    const deadline = Date.now() + timeoutMs;
    (function ask() {
      jobStatus(requestId, (status) => {
        if ((status && until(status)) || Date.now() >= deadline) done(status);
        else setTimeout(ask, 50);
      });
    })();
  }

  return { messages, reply, pollJob };
};
pm.variables.set('mcpHelpers', '(' + mcpHelpers.toString() + ')()');
