// The benchmark's peer (docs/benchmarks.md): a minimal Bolt for JavaScript app on Bolt's
// AwsLambdaReceiver, doing what our edge does for the same three requests: acknowledge the
// /hs-chat-away slash command with a private answer, a message event, and a card's Claim
// button (block_actions, answered with an empty 200 as ours is).
// Settings as our functions take them: SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL
// (Bolt calls auth.test once at start; the benchmark points it at its local Slack stub).
const { App, AwsLambdaReceiver, LogLevel } = require('@slack/bolt');

const receiver = new AwsLambdaReceiver({
  signingSecret: process.env.SLACK_SIGNING_SECRET,
  logLevel: LogLevel.WARN,
});

const slackApiUrl = process.env.SLACK_API_URL;
const app = new App({
  token: process.env.SLACK_BOT_TOKEN,
  receiver,
  logLevel: LogLevel.WARN,
  clientOptions: slackApiUrl ? { slackApiUrl: `${slackApiUrl.replace(/\/$/, '')}/` } : undefined,
});

app.command('/hs-chat-away', async ({ ack }) => {
  await ack({ response_type: 'ephemeral', text: 'Setting you to away in the HubSpot inbox…' });
});

app.event('message', async () => {
  // Acknowledged by Bolt; the work would go to a queue, as ours does.
});

app.action('claim', async ({ ack }) => {
  // Acknowledged; the claim itself would go to a queue, as ours does.
  await ack();
});

let handler;
module.exports.handler = async (event, context, callback) => {
  handler = handler || (await receiver.start());
  return handler(event, context, callback);
};
