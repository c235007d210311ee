import type { ProviderType } from '../api/provider.ts';
import { alertmanagerNotifier } from './alertmanager.ts';
import { discordNotifier } from './discord.ts';
import { genericHmacNotifier } from './generic-hmac.ts';
import { genericNotifier } from './generic.ts';
import { githubNotifier } from './github.ts';
import { gitlabNotifier } from './gitlab.ts';
import { msteamsNotifier } from './msteams.ts';
import type { Notifier, NotifierConfig } from './notifier.ts';
import { slackNotifier } from './slack.ts';

const factories: Record<ProviderType, (config: NotifierConfig) => Notifier> = {
  generic: genericNotifier,
  'generic-hmac': genericHmacNotifier,
  slack: slackNotifier,
  msteams: msteamsNotifier,
  discord: discordNotifier,
  github: githubNotifier,
  gitlab: gitlabNotifier,
  alertmanager: alertmanagerNotifier,
};

/** The notifier for a provider type. Throws DeliveryError (not retryable) when the address cannot work for it. */
export function createNotifier(config: NotifierConfig): Notifier {
  return factories[config.type](config);
}
