import {
  checkEvent,
  header,
  ReceiverValidationError,
  type ReceiverRequest,
  type ReceiverVerdict,
} from './receiver-request.ts';
import { jsonPayload } from './receiver-payload.ts';

/** A CDEvents type: `dev.cdevents.<subject>.<predicate>.<semver>`. */
const CDEVENT_TYPE = /^dev\.cdevents\.[a-z]+\.[a-z]+\.\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

function nonEmpty(object: Record<string, unknown>, key: string, where: string): string {
  const value = object[key];
  if (typeof value !== 'string' || value === '')
    throw new ReceiverValidationError(`invalid CDEvent: '${where}.${key}' must be a non-empty string`);
  return value;
}

function objectAt(object: Record<string, unknown>, key: string, label = key): Record<string, unknown> {
  const value = object[key];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ReceiverValidationError(`invalid CDEvent: '${label}' must be an object`);
  return value as Record<string, unknown>;
}

/**
 * `cdevents`: the body must be a CDEvent of spec 0.4 (the version Flux decodes) with its required context
 * (`specversion`, `id`, `source`, `type`, `timestamp`) and subject (`id`, `content`); the `Ce-Type` header
 * must be in `events` when given. The unguessable path is the credential.
 */
export function validateCdevents(request: ReceiverRequest, events?: readonly string[]): ReceiverVerdict {
  const event = jsonPayload(request, 'CDEvent');
  const context = objectAt(event, 'context');
  const version = nonEmpty(context, 'specversion', 'context');
  if (!/^0\.4\.\d+/.test(version))
    throw new ReceiverValidationError(`invalid CDEvent: specversion '${version}' is not 0.4.x`);
  nonEmpty(context, 'id', 'context');
  nonEmpty(context, 'source', 'context');
  const type = nonEmpty(context, 'type', 'context');
  if (!CDEVENT_TYPE.test(type))
    throw new ReceiverValidationError(
      `invalid CDEvent: type '${type}' is not dev.cdevents.<subject>.<predicate>.<version>`,
    );
  const timestamp = nonEmpty(context, 'timestamp', 'context');
  if (Number.isNaN(Date.parse(timestamp)))
    throw new ReceiverValidationError(`invalid CDEvent: timestamp '${timestamp}' is not RFC 3339`);
  const subject = objectAt(event, 'subject');
  nonEmpty(subject, 'id', 'subject');
  objectAt(subject, 'content', 'subject.content');
  const ceType = header(request, 'ce-type');
  checkEvent('CDEvent', ceType, events);
  return { action: 'trigger', event: ceType ?? type };
}
