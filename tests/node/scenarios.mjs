// Every scenario of the OpenAI image surface through the official openai Node SDK.
// Prints one JSON object with what the SDK saw; tests/e2e/test_node_sdk.py asserts on it.
import OpenAI, { toFile } from "openai";
import { readFileSync } from "node:fs";

const client = new OpenAI({ baseURL: process.env.GATEWAY_URL + "/v1", apiKey: "sk-node-client", maxRetries: 0 });
const png = readFileSync(process.env.INPUT_PNG);
const tool = { type: "image_generation", size: "1024x1024" };
const out = {};

async function caught(run) {
  try {
    await run();
    return null;
  } catch (err) {
    return { name: err.constructor.name, status: err.status ?? null, param: err.param ?? null, message: String(err.message) };
  }
}

const generated = await client.images.generate({ model: "gpt-image-1", prompt: "a fox", size: "1024x1024" });
out.generate = { b64: generated.data[0].b64_json?.length ?? 0, url: generated.data[0].url ?? null, size: generated.size, output_format: generated.output_format };

const stream = await client.images.generate({ model: "gpt-image-1", prompt: "a fox", n: 2, size: "1024x1024", stream: true });
out.generate_stream = [];
for await (const event of stream) out.generate_stream.push({ type: event.type, b64: event.b64_json.length, size: event.size });

const edit = await client.images.edit({
  model: "gpt-image-1", prompt: "make it blue", image: await toFile(png, "in.png", { type: "image/png" }), stream: true,
});
out.edit_stream = [];
for await (const event of edit) out.edit_stream.push({ type: event.type, b64: event.b64_json.length });

out.stream_error = await caught(async () => {
  for await (const _ of await client.images.generate({ model: "gpt-image-1", prompt: "p [emu:data-inspection]", stream: true })) {
  }
});
out.bad_request = await caught(() => client.images.generate({ model: "gpt-image-1", prompt: "p", size: "banana", stream: true }));

const variation = await client.images.createVariation({ image: await toFile(png, "in.png", { type: "image/png" }), n: 1 });
out.variation = { url: Boolean(variation.data[0].url) };

const response = await client.responses.create({ model: "gpt-4.1", input: "a lighthouse", tools: [tool] });
const call = response.output.find((item) => item.type === "image_generation_call");
out.response = { object: response.object, status: response.status, result: call?.result?.length ?? 0, size: call?.size };

const events = await client.responses.create({ model: "gpt-4.1", input: "a lighthouse", tools: [tool], stream: true });
out.response_stream = [];
for await (const event of events) out.response_stream.push({ type: event.type, sequence_number: event.sequence_number });

const helper = client.responses.stream({ model: "gpt-4.1", input: "a lighthouse", tools: [tool] });
const final = await helper.finalResponse();
out.response_helper = { status: final.status, result: final.output.find((i) => i.type === "image_generation_call")?.result?.length ?? 0 };

const text = await client.responses.create({ model: "qwen-plus", input: "hello there" });
out.proxied = text.output_text;

console.log(JSON.stringify(out));
