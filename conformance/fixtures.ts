// The functions `npm run conformance` deploys as one tenant's tools: the fixture tools of the MCP
// conformance suite's server scenarios that an Isobox tool can be (text, errors, progress through
// a job-mode tool, a 2020-12 input schema kept verbatim). Resources, prompts, logging, sampling,
// elicitation and multi-round-trip input are not MCP features Isobox serves (see baseline.yml).
const text = (value: string) => `export default { tool() { return ${JSON.stringify(value)}; } };`;

const SLEEP = "const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));";

export const FIXTURES: Record<string, { code: string; tool: Record<string, unknown> }> = {
  // The tasks extension's fixtures: a sync tool and job-mode tools.
  greet: {
    code: "export default { tool({ name }) { return `Hello, ${name}!`; } };",
    tool: { description: "Greets", input: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
  },
  slow_compute: {
    code: `${SLEEP} export default { async job({ seconds = 1, label = "" }) { await sleep(seconds); return \`computed \${label} after \${seconds}s\`; } };`,
    tool: { description: "Sleeps, then answers (a job)", mode: "job", input: { type: "object", properties: { seconds: { type: "number" }, label: { type: "string" } } } },
  },
  failing_job: {
    code: `${SLEEP} export default { async job() { await sleep(1); throw new Error("failing_job failed, as it always does"); } };`,
    tool: { description: "A job that fails", mode: "job" },
  },
  protocol_error_job: {
    code: "export default { async job() { throw new Error('protocol_error_job failed'); } };",
    tool: { description: "A job that fails at once", mode: "job" },
  },
  test_simple_text: {
    code: text("This is a simple text response for testing."),
    tool: { description: "Tests simple text content response" },
  },
  test_error_handling: {
    code: "export default { tool() { throw new Error('This tool intentionally returns an error for testing'); } };",
    tool: { description: "Tests error response handling" },
  },
  test_tool_with_progress: {
    code: "export default { async job() { await new Promise((resolve) => setTimeout(resolve, 3500)); return 'done'; } };",
    tool: { description: "Tests progress notifications (a job-mode tool: progress while its job runs)", mode: "job" },
  },
  json_schema_2020_12_tool: {
    code: text("ok"),
    tool: {
      description: "Tool with JSON Schema 2020-12 features",
      input: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        $defs: { address: { $anchor: "addressDef", type: "object", properties: { street: { type: "string" }, city: { type: "string" } } } },
        properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" }, contactMethod: { type: "string", enum: ["phone", "email"] }, phone: { type: "string" }, email: { type: "string" } },
        allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
        if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
        then: { required: ["phone"] },
        else: { required: ["email"] },
        additionalProperties: false,
      },
    },
  },
};
