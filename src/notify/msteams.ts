import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Old Office 365 connector webhooks take a MessageCard; Workflows (Power Automate) take an Adaptive Card. */
export function isLegacyTeamsWebhook(address: string): boolean {
  return /(^|\.)webhook\.office\.com$/i.test(new URL(address).hostname);
}

/** A Teams Adaptive Card message: title, message and a fact per metadata entry, red title on errors. */
export function teamsAdaptiveCard(event: FluxEvent): Record<string, unknown> {
  const facts = Object.entries(event.metadata ?? {}).map(([title, value]) => ({ title, value }));
  const body: Array<Record<string, unknown>> = [
    { type: 'TextBlock', text: eventTitle(event), weight: 'bolder', size: 'medium', color: event.severity === 'error' ? 'attention' : 'good' },
    { type: 'TextBlock', text: event.message, wrap: true },
  ];
  if (facts.length > 0) body.push({ type: 'FactSet', facts });
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body },
      },
    ],
  };
}

/** A legacy connector MessageCard. */
export function teamsMessageCard(event: FluxEvent): Record<string, unknown> {
  const facts = Object.entries(event.metadata ?? {}).map(([name, value]) => ({ name, value }));
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    themeColor: event.severity === 'error' ? 'FF0000' : '0076D7',
    summary: eventTitle(event),
    sections: [{ activityTitle: event.message, activitySubtitle: eventTitle(event), facts }],
  };
}

/** `msteams`: an Adaptive Card to a Workflows webhook, or a MessageCard to a legacy connector. */
export function msteamsNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      const payload = isLegacyTeamsWebhook(config.address) ? teamsMessageCard(event) : teamsAdaptiveCard(event);
      await postHttp(config.address, JSON.stringify(payload), { ...config.http, headers: baseHeaders(config), signal });
    },
  };
}
