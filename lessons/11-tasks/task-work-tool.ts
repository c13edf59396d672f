// Lesson 11 server's inspection tool, get_task_work: a task's work from the server's own record, by
// its taskId. The proof of a cancel is on the server's side: the client asks it what the work did.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { jobReportSchema, type JobBook } from '../shared/jobs.ts';
import { jobsByTask } from './task-jobs.ts';

export function registerTaskWorkTool(server: McpServer, jobs: JobBook) {
  server.registerTool(
    'get_task_work',
    {
      title: 'What a task did',
      description:
        "Reports a task's work by its taskId, from the server's own record: running, completed or cancelled; " +
        'chunks done; when tasks/cancel arrived and how far the work went after it; whether its file is closed.',
      inputSchema: { taskId: z.string().min(1).describe('the taskId that tools/call returned') },
      outputSchema: { taskId: z.string(), ...jobReportSchema },
    },
    async ({ taskId }) => {
      const job = jobsByTask.get(taskId);
      // Jobs belong to the session that ran them, like the tasks themselves.
      if (!job || jobs.get(job.requestId) !== job) throw new Error(`No task ${taskId} in this session.`);
      const report = { taskId, ...jobs.report(job) };
      return { content: [{ type: 'text', text: JSON.stringify(report, null, 2) }], structuredContent: report };
    },
  );
}
