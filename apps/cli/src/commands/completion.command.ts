import { Command } from 'commander';
import { CliError } from '../errors';
import { out } from '../output';

/** A command's words for completion: its subcommands and its long options. */
interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

/** Every command of the tree (depth first), with what may follow it. */
function walk(cmd: Command, path: string[] = []): Node[] {
  const visible = cmd.commands.filter((c) => c.name() !== 'help');
  const options = [...cmd.options.map((o) => o.long).filter((l): l is string => !!l), '--help'];
  return [
    { path, subcommands: visible.map((c) => c.name()), options },
    ...visible.flatMap((c) => walk(c, [...path, c.name()])),
  ];
}

function bash(nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    "${n.path.join(' ')}") words="${[...n.subcommands, ...n.options].join(' ')}" ;;`)
    .join('\n');
  return `# gtc completion for bash: eval "$(gtc completion bash)" (or save it under /etc/bash_completion.d/gtc)
_gtc() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path="" w i words=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    case "\${path:+$path }$w" in
${nodes
  .filter((n) => n.path.length)
  .map((n) => `      "${n.path.join(' ')}") path="${n.path.join(' ')}" ;;`)
  .join('\n')}
    esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _gtc gtc
`;
}

function fish(nodes: Node[]): string {
  const lines = [
    '# gtc completion for fish: gtc completion fish > ~/.config/fish/completions/gtc.fish',
    'complete -c gtc -f',
  ];
  for (const n of nodes) {
    const cond = n.path.length
      ? `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`
      : '__fish_use_subcommand';
    for (const s of n.subcommands) lines.push(`complete -c gtc -n '${cond}' -a ${s}`);
    for (const o of n.options) lines.push(`complete -c gtc -n '${cond}' -l ${o.replace(/^--/, '')}`);
  }
  return lines.join('\n') + '\n';
}

/** Registers `gtc completion bash|zsh|fish`: a completion script for the shell, generated from the command tree. */
export function completionCommand(program: Command): void {
  program
    .command('completion')
    .description(
      'print a shell completion script: eval "$(gtc completion bash)", zsh likewise, or gtc completion fish > ~/.config/fish/completions/gtc.fish',
    )
    .argument('<shell>', 'bash, zsh or fish')
    .action((shell: string) => {
      const nodes = walk(program);
      if (shell === 'bash') return out(bash(nodes));
      // zsh runs the bash function through its bash-completion emulation.
      if (shell === 'zsh') return out(`autoload -U +X bashcompinit && bashcompinit\n${bash(nodes)}`);
      if (shell === 'fish') return out(fish(nodes));
      throw new CliError(`shell "${shell}": expected bash, zsh or fish`, 2);
    });
}
