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
