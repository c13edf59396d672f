// What the lesson 11 client was answered, as it prints it.
import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** An McpError's code and the message as it came over the wire (the SDK client prefixes "MCP error N: "). */
export const wireError = (error: unknown): { code?: number; message: string } =>
  error instanceof McpError
    ? { code: error.code, message: error.message.replace(/^MCP error -?\d+: /, '') }
    : { message: (error as Error).message };

export function describeError(error: unknown): string {
  const { code, message } = wireError(error);
  return code === undefined ? `error "${message}"` : `error ${code} "${message}"`;
}
