import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/**
 * The Google Chat card Flux sends: the object as title, the controller as subtitle, the message (red on
 * errors) and a key/value widget per metadata entry. Absent fields are sent as `null`, as Flux's are.
 */
export function googleChatPayload(event: FluxEvent): Record<string, unknown> {
  const text = event.severity === 'error' ? `<font color="#ff0000">${event.message}</font>` : event.message;
  const sections: Array<Record<string, unknown>> = [
    { header: '', widgets: [{ textParagraph: { text }, keyValue: null }] },
  ];
  const entries = Object.entries(event.metadata ?? {});
  if (entries.length > 0) {
    sections.push({
      header: '',
      widgets: entries.map(([topLabel, content]) => ({
        textParagraph: null,
        keyValue: { topLabel, content, contentMultiline: false, bottomLabel: null, icon: null },
      })),
    });
  }
  return {
    cards: [
      {
        header: {
          title: eventTitle(event),
          subtitle: event.reportingController,
          imageUrl: null,
          imageStyle: null,
        },
        sections,
      },
    ],
  };
}

/** `googlechat`: the card to the space's incoming webhook address (its key and token are in the query). */
export function googleChatNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      await postHttp(config.address, JSON.stringify(googleChatPayload(event)), {
        ...config.http,
        headers: baseHeaders(config),
        signal,
      });
    },
  };
}
