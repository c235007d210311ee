import type { ProviderType } from '../api/provider.ts';
import { alertmanagerNotifier } from './alertmanager.ts';
import { azureDevOpsNotifier } from './azuredevops.ts';
import { bitbucketNotifier } from './bitbucket.ts';
import { bitbucketServerNotifier } from './bitbucketserver.ts';
import { datadogNotifier } from './datadog.ts';
import { discordNotifier } from './discord.ts';
import { genericHmacNotifier } from './generic-hmac.ts';
import { genericNotifier } from './generic.ts';
import { giteaNotifier } from './gitea.ts';
import { githubDispatchNotifier } from './githubdispatch.ts';
import { githubNotifier } from './github.ts';
import { githubPullRequestCommentNotifier } from './githubpullrequestcomment.ts';
import { giteaPullRequestCommentNotifier } from './giteapullrequestcomment.ts';
import { gitlabMergeRequestCommentNotifier } from './gitlabmergerequestcomment.ts';
import { incidentIoNotifier } from './incidentio.ts';
import { zoomNotifier } from './zoom.ts';
import { gitlabNotifier } from './gitlab.ts';
import { googleChatNotifier } from './googlechat.ts';
import { grafanaNotifier } from './grafana.ts';
import { larkNotifier } from './lark.ts';
import { matrixNotifier } from './matrix.ts';
import { msteamsNotifier } from './msteams.ts';
import type { Notifier, NotifierConfig } from './notifier.ts';
import { natsNotifier } from './nats.ts';
import { opsgenieNotifier } from './opsgenie.ts';
import { otelNotifier } from './otel.ts';
import { pagerDutyNotifier } from './pagerduty.ts';
import { rocketNotifier } from './rocket.ts';
import { sentryNotifier } from './sentry.ts';
import { slackNotifier } from './slack.ts';
import { telegramNotifier } from './telegram.ts';
import { webexNotifier } from './webex.ts';
import { zulipNotifier } from './zulip.ts';

const factories: Record<ProviderType, (config: NotifierConfig) => Notifier> = {
  generic: genericNotifier,
  'generic-hmac': genericHmacNotifier,
  slack: slackNotifier,
  msteams: msteamsNotifier,
  discord: discordNotifier,
  rocket: rocketNotifier,
  googlechat: googleChatNotifier,
  webex: webexNotifier,
  telegram: telegramNotifier,
  matrix: matrixNotifier,
  lark: larkNotifier,
  zulip: zulipNotifier,
  opsgenie: opsgenieNotifier,
  pagerduty: pagerDutyNotifier,
  datadog: datadogNotifier,
  sentry: sentryNotifier,
  grafana: grafanaNotifier,
  alertmanager: alertmanagerNotifier,
  github: githubNotifier,
  gitlab: gitlabNotifier,
  gitea: giteaNotifier,
  bitbucket: bitbucketNotifier,
  bitbucketserver: bitbucketServerNotifier,
  azuredevops: azureDevOpsNotifier,
  githubdispatch: githubDispatchNotifier,
  githubpullrequestcomment: githubPullRequestCommentNotifier,
  gitlabmergerequestcomment: gitlabMergeRequestCommentNotifier,
  giteapullrequestcomment: giteaPullRequestCommentNotifier,
  zoom: zoomNotifier,
  'incident.io': incidentIoNotifier,
  nats: natsNotifier,
  otel: otelNotifier,
};

/** The notifier for a provider type. Throws DeliveryError (not retryable) when the address cannot work for it. */
export function createNotifier(config: NotifierConfig): Notifier {
  return factories[config.type](config);
}
