import type { Command } from 'commander';

/**
 * The leaf command at `words` under `parent` (e.g. `get` → `sources` → `git`), creating intermediate
 * groups as needed, so every resource type adds itself under the same verbs as flux: `get sources git`.
 */
export function commandAt(
  parent: Command,
  words: string[],
  args: string,
  description: string,
  aliases: string[][] = [],
  shortName?: string,
): Command {
  let group = parent;
  words.slice(0, -1).forEach((word, i) => {
    const alias = aliases.map((a) => a[i]).find((a) => a && a !== word);
    let next = group.commands.find((c) => c.name() === word);
    if (!next) {
      next = group.command(word).description(`${word} resources`);
      if (alias) next.alias(alias);
    }
    group = next;
  });
  const leaf = group.command(`${words.at(-1)}${args ? ` ${args}` : ''}`).description(description);
  // `kedge get app NAME` as well as `kedge get apps`: the singular leaf word is an alias of the plural one.
  const leafAlias = aliases.map((a) => a[words.length - 1]).find((a) => a && a !== words.at(-1));
  if (leafAlias) leaf.alias(leafAlias);
  if (shortName) leaf.alias(shortName);
  return leaf;
}
