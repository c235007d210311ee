import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { mark } from '../output/style.ts';

/** Flags both commands share: how to reach the registry. */
interface RegistryFlags {
  creds?: string;
  insecureRegistry?: boolean;
}

interface PushFlags extends RegistryFlags {
  path: string;
  source?: string;
  revision?: string;
  ignorePaths?: string[];
  annotations?: string[];
  output?: string;
}

interface PullFlags extends RegistryFlags {
  output: string;
}

/** `--opt a --opt b` and `--opt a,b` both give [a, b] (flux's string slices). */
const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value.split(',').filter((v) => v !== ''),
];

/**
 * `kedge push artifact oci://REGISTRY/REPO:TAG --path DIR|FILE --source URL --revision REV` and `kedge pull
 * artifact oci://REGISTRY/REPO[:TAG|@DIGEST] --output DIR`: what a CI pipeline runs to publish manifests for
 * an OCIRepository, with `flux push|pull artifact`'s flags, media types and annotations, so artifacts from
 * either tool work with both.
 */
export function registerArtifactCommands(program: Command): void {
  const push =
    program.commands.find((c) => c.name() === 'push') ??
    program.command('push').description('push artifacts');
  push
    .command('artifact <url>')
    .description('push the files at --path as an OCI artifact (Flux media types) to oci://REGISTRY/REPO:TAG')
    .requiredOption('--path <path>', 'directory or file to push')
    .option(
      '--source <url>',
      'where the content comes from (org.opencontainers.image.source), e.g. the Git URL',
    )
    .option(
      '--revision <rev>',
      'the source revision (org.opencontainers.image.revision), e.g. main@sha1:<commit>',
    )
    .option(
      '--creds <user:password>',
      'registry credentials (default: the docker config, $DOCKER_CONFIG or ~/.docker)',
    )
    .option('--insecure-registry', 'allow plain HTTP and unverified TLS to the registry')
    .option(
      '--ignore-paths <patterns>',
      'paths to leave out, in .gitignore format (repeatable, comma-separated)',
      collect,
    )
    .option(
      '-a, --annotations <key=value>',
      'further manifest annotations (repeatable, comma-separated)',
      collect,
    )
    .option('-o, --output <format>', "print the result as 'json' instead of text")
    .action(async (url: string, flags: PushFlags) => {
      await pushArtifact(url, flags);
    });
  const pull =
    program.commands.find((c) => c.name() === 'pull') ??
    program.command('pull').description('pull artifacts');
  pull
    .command('artifact <url>')
    .description('pull an OCI artifact from oci://REGISTRY/REPO[:TAG|@DIGEST] and extract it into --output')
    .requiredOption('-o, --output <dir>', 'directory to extract the artifact into')
    .option(
      '--creds <user:password>',
      'registry credentials (default: the docker config, $DOCKER_CONFIG or ~/.docker)',
    )
    .option('--insecure-registry', 'allow plain HTTP and unverified TLS to the registry')
    .action(async (url: string, flags: PullFlags) => {
      await pullArtifact(url, flags);
    });
}

async function address(url: string) {
  const { parseOciUrl, OciReferenceError } = await import('../../source/oci/index.ts');
  try {
    return parseOciUrl(url);
  } catch (error) {
    if (error instanceof OciReferenceError) throw new CliError(`invalid URL: ${error.message}`);
    throw error;
  }
}

/** The client options from the flags; without --creds, the docker config's entry for the registry, if any. */
async function clientOptions(registry: string, flags: RegistryFlags) {
  const { credentialsFromDockerConfig } = await import('../../source/oci/index.ts');
  const options: import('../../source/oci/index.ts').RegistryClientOptions = { userAgent: 'kedge-cli' };
  if (flags.insecureRegistry) options.insecure = true;
  if (flags.creds !== undefined) {
    const colon = flags.creds.indexOf(':');
    if (colon < 0) throw new CliError("--creds must be 'user:password'");
    options.credentials = { username: flags.creds.slice(0, colon), password: flags.creds.slice(colon + 1) };
    return options;
  }
  const configFile = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  const config = await readFile(configFile, 'utf8').catch(() => undefined);
  const credentials = config === undefined ? undefined : credentialsFromDockerConfig(config, registry);
  if (credentials) options.credentials = credentials;
  return options;
}

async function pushArtifact(url: string, flags: PushFlags): Promise<void> {
  const target = await address(url);
  if (target.digest) throw new CliError('push to a tag (oci://REGISTRY/REPO:TAG), not to a digest');
  const { RegistryClient, pushFluxArtifact, formatRepository } = await import('../../source/oci/index.ts');
  const annotations: Record<string, string> = {};
  for (const pair of flags.annotations ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--annotations '${pair}' is not key=value`);
    annotations[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const tag = target.tag ?? 'latest';
  const json = flags.output === 'json';
  if (flags.output !== undefined && !json) throw new CliError("--output takes 'json'");
  if (!json)
    process.stdout.write(`${mark.action(`pushing artifact to ${formatRepository(target)}:${tag}`)}\n`);
  const client = new RegistryClient(target.registry, await clientOptions(target.registry, flags));
  try {
    const pushed = await pushFluxArtifact(
      client,
      { ...target, tag },
      flags.path,
      {
        ...(flags.source !== undefined ? { source: flags.source } : {}),
        ...(flags.revision !== undefined ? { revision: flags.revision } : {}),
        annotations,
      },
      { ignorePaths: flags.ignorePaths ?? [] },
    );
    const digestUrl = `${formatRepository(target)}@${pushed.digest}`;
    if (json) {
      process.stdout.write(
        `${JSON.stringify(
          {
            ...(flags.source !== undefined ? { source_url: flags.source } : {}),
            ...(flags.revision !== undefined ? { source_revision: flags.revision } : {}),
            digest: digestUrl,
            url: `${formatRepository(target)}:${tag}`,
            annotations: pushed.annotations,
          },
          null,
          2,
        )}\n`,
      );
    } else process.stdout.write(`${mark.success(`artifact successfully pushed to ${digestUrl}`)}\n`);
  } catch (error) {
    throw new CliError(`pushing artifact failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    client.close();
  }
}

async function pullArtifact(url: string, flags: PullFlags): Promise<void> {
  const target = await address(url);
  const { RegistryClient, pullFluxArtifact, formatRepository, SourceAnnotation, RevisionAnnotation } =
    await import('../../source/oci/index.ts');
  const { mkdir } = await import('node:fs/promises');
  const shown = `${formatRepository(target)}${target.digest ? `@${target.digest}` : `:${target.tag ?? 'latest'}`}`;
  process.stdout.write(`${mark.action(`pulling artifact from ${shown}`)}\n`);
  await mkdir(flags.output, { recursive: true });
  const client = new RegistryClient(target.registry, await clientOptions(target.registry, flags));
  try {
    const pulled = await pullFluxArtifact(client, target, flags.output);
    const source = pulled.annotations[SourceAnnotation];
    const revision = pulled.annotations[RevisionAnnotation];
    if (source) process.stdout.write(`${mark.success(`source ${source}`)}\n`);
    if (revision) process.stdout.write(`${mark.success(`revision ${revision}`)}\n`);
    process.stdout.write(`${mark.success(`digest ${formatRepository(target)}@${pulled.digest}`)}\n`);
    process.stdout.write(
      `${mark.success(`artifact content ${pulled.written === 'extracted' ? 'extracted' : 'copied'} to ${flags.output}`)}\n`,
    );
  } catch (error) {
    throw new CliError(`pulling artifact failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    client.close();
  }
}
