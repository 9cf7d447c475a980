// The official OpenAI Node SDK against a running `sarathi serve` (started by run_node_test.sh,
// which passes SARATHI_BASE_URL and SARATHI_MODEL): completion, chat, streamed chat, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: `${process.env.SARATHI_BASE_URL}/v1`,
  apiKey: process.env.SARATHI_API_KEY ?? 'unused',
  maxRetries: 0,
});
const model = process.env.SARATHI_MODEL;

test('models.list names the served model', async () => {
  const page = await client.models.list();
  assert.equal(page.data[0].id, model);
});

test('completions.create', async () => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5,
                                              ignore_eos: true, seed: 1, temperature: 0.7 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 5);
});

test('chat.completions.create', async () => {
  const r = await client.chat.completions.create({
    model, max_tokens: 4, ignore_eos: true,
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello!' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.equal(r.usage.completion_tokens, 4);
});

test('streamed chat: role first, content deltas, usage last', async () => {
  const stream = await client.chat.completions.create({
    model, max_tokens: 6, ignore_eos: true, stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Count to three.' }],
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const finish = chunks.flatMap((c) => c.choices).filter((c) => c.finish_reason);
  assert.equal(finish.length, 1);
  assert.equal(finish[0].finish_reason, 'length');
  assert.equal(chunks.at(-1).usage.completion_tokens, 6);
});

test('errors arrive as OpenAI errors', async () => {
  await assert.rejects(
    client.completions.create({ model: 'no-such-model', prompt: 'x', max_tokens: 1 }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
  await assert.rejects(
    client.completions.create({ model, prompt: 'x', max_tokens: 1, temperature: -1 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
});

// Structured output: the random-weight model's reply is JSON valid for the schema.
test('response_format json_schema, whole and streamed', async () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 8 }, age: { type: 'integer' },
                  pets: { type: 'array', items: { enum: ['cat', 'dog'] }, maxItems: 3 } },
    required: ['name', 'age', 'pets'], additionalProperties: false,
  };
  const response_format = { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } };
  const messages = [{ role: 'user', content: 'Describe a person as JSON.' }];
  const check = (text) => {
    const x = JSON.parse(text);
    assert.deepEqual(Object.keys(x), ['name', 'age', 'pets']);
    assert.equal(typeof x.name, 'string');
    assert.ok([...x.name].length <= 8);
    assert.ok(Number.isInteger(x.age));
    assert.ok(x.pets.length <= 3 && x.pets.every((p) => p === 'cat' || p === 'dog'));
  };
  const r = await client.chat.completions.create({ model, messages, response_format, max_tokens: 200, seed: 2 });
  assert.equal(r.choices[0].finish_reason, 'stop');
  check(r.choices[0].message.content);
  const stream = await client.chat.completions.create({ model, messages, response_format, max_tokens: 200,
                                                        seed: 3, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  check(text);
  await assert.rejects(
    client.chat.completions.create({ model, messages, max_tokens: 5, response_format: {
      type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', format: 'email' } } } }),
    (e) => e instanceof OpenAI.BadRequestError && /format 'email' is not supported/.test(e.message));
});

// Tool calls: a forced call parses into tool_calls (whole and streamed, as the SDK's stream helper
// assembles them), then the tool's result goes back and the model answers in text.
test('tool call round trip', async () => {
  const tools = [{
    type: 'function',
    function: { name: 'get_weather', description: 'Current weather in a city',
                parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 },
                              unit: { enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] } },
  }];
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const r = await client.chat.completions.create({ model, messages, tools, tool_choice: 'required',
                                                   max_tokens: 200, seed: 5 });
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length >= 1, true);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit));

  const runner = client.chat.completions.stream({ model, messages, tools, max_tokens: 200, seed: 6,
    tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  const streamed = final.choices[0].message.tool_calls[0];
  assert.equal(streamed.function.name, 'get_weather');
  assert.ok(['celsius', 'fahrenheit'].includes(JSON.parse(streamed.function.arguments).unit));

  const followup = [...messages, choice.message,
                    { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21}' }];
  const answer = await client.chat.completions.create({ model, messages: followup, tools,
                                                        tool_choice: 'none', max_tokens: 8, ignore_eos: true });
  assert.equal(answer.choices[0].finish_reason, 'length');
  assert.equal(typeof answer.choices[0].message.content, 'string');
  assert.equal(answer.choices[0].message.tool_calls, undefined);
});
