
use builtin;
use str;

set edit:completion:arg-completer[boxpy] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'boxpy'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'boxpy'= {
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand run 'Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox'
            cand nbexec 'Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)'
            cand exec 'Run any program under the same policy (`boxpy exec -- sh` for a shell inside)'
            cand render 'Print the sandbox a policy becomes, as a bash script that runs it by hand; runs nothing'
            cand policy 'List, show, check or create policies'
            cand cache 'Show, clear or prime the per-venv library caches (matplotlib''s font list)'
            cand doctor 'Check whether this machine can sandbox, and how each limit is enforced'
            cand completions 'Generate shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'boxpy;run'= {
            cand -P 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --policy 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --venv 'The virtualenv to use'
            cand -w 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --workdir 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --hide 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable'
            cand --ro 'Extra read-only mount (repeatable)'
            cand --rw 'Extra read-write mount (repeatable)'
            cand --network 'Network mode'
            cand --allow-host 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)'
            cand --deny-host 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)'
            cand --env 'Pass KEY from the host, or set KEY=VALUE (repeatable)'
            cand --timeout 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)'
            cand --cpu 'CPU-time limit (e.g. 30s)'
            cand --memory 'Memory limit (e.g. 512MiB, 2GiB)'
            cand --audit-log 'Append one JSON line describing the run to FILE (also `[audit] log`)'
            cand -c 'Run a code string'
            cand -m 'Run a module as a script'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --mkdir 'Create the working directory (one level) when it does not exist'
            cand --json 'Print one JSON result object on stdout instead of streaming'
            cand -q 'No report of boxpy''s own; only the program''s output'
            cand --quiet 'No report of boxpy''s own; only the program''s output'
            cand -v 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
            cand --verbose 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;nbexec'= {
            cand -P 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --policy 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --venv 'The virtualenv to use'
            cand -w 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --workdir 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --hide 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable'
            cand --ro 'Extra read-only mount (repeatable)'
            cand --rw 'Extra read-write mount (repeatable)'
            cand --network 'Network mode'
            cand --allow-host 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)'
            cand --deny-host 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)'
            cand --env 'Pass KEY from the host, or set KEY=VALUE (repeatable)'
            cand --timeout 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)'
            cand --cpu 'CPU-time limit (e.g. 30s)'
            cand --memory 'Memory limit (e.g. 512MiB, 2GiB)'
            cand --audit-log 'Append one JSON line describing the run to FILE (also `[audit] log`)'
            cand -o 'Write the executed notebook to OUT (atomically; `-` for stdout)'
            cand --output 'Write the executed notebook to OUT (atomically; `-` for stdout)'
            cand --autosave-cell-every 'With `--request-save-on-cell-execute`: save inside a long cell at most every SECS seconds, when it outputs (0: never) [default: 30]'
            cand -p 'A parameter, VALUE read as papermill reads it: `True`, `False`, `None`; else an int as Python''s int() reads it (`007` is 7); else a float as float() reads it (`1e400` is inf, `nan`); else a Python literal (`[1, 2]`, `{''a'': 1}`, `''text''`); else the text itself'
            cand --parameter 'A parameter, VALUE read as papermill reads it: `True`, `False`, `None`; else an int as Python''s int() reads it (`007` is 7); else a float as float() reads it (`1e400` is inf, `nan`); else a Python literal (`[1, 2]`, `{''a'': 1}`, `''text''`); else the text itself'
            cand -r 'A parameter whose VALUE is always a string'
            cand --parameter-raw 'A parameter whose VALUE is always a string'
            cand -y 'Parameters from YAML text, a mapping (as papermill''s PyYAML reads it: `yes` is True, `1e3` a string, `1.0e+3` a float)'
            cand --parameters-yaml 'Parameters from YAML text, a mapping (as papermill''s PyYAML reads it: `yes` is True, `1e3` a string, `1.0e+3` a float)'
            cand -f 'Parameters from a YAML file, a mapping'
            cand --parameters-file 'Parameters from a YAML file, a mapping'
            cand -b 'Parameters from base64-encoded YAML, a mapping'
            cand --parameters-base64 'Parameters from base64-encoded YAML, a mapping'
            cand --cell-timeout 'Limit for each cell (e.g. 60s); the policy''s `limits.timeout` bounds the whole run'
            cand --kernel 'The kernel to use (default: the notebook''s kernelspec, else python3)'
            cand --cwd 'Run the kernel in DIR (for a notebook''s relative paths): as it is inside the workdir, else mounted read-only; never HOME or above it, `/`, a system or protected directory'
            cand --max-notebook-size 'The largest notebook boxpy reads (default 256MiB)'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --mkdir 'Create the working directory (one level) when it does not exist'
            cand --json 'Print one JSON result object on stdout instead of streaming'
            cand -q 'No report of boxpy''s own; only the program''s output'
            cand --quiet 'No report of boxpy''s own; only the program''s output'
            cand -v 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
            cand --verbose 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
            cand --inplace 'Overwrite NOTEBOOK with the executed notebook (atomically)'
            cand --prepare-only 'Inject the parameters and write the notebook (with papermill''s metadata, outputs cleared) without starting a kernel; needs `-o` or `--inplace`'
            cand --log-output 'Stream what each cell prints (and its text results) to stderr as it arrives'
            cand --request-save-on-cell-execute 'Save the notebook to OUT as each cell starts and ends (and every `--autosave-cell-every` seconds of a cell''s output), so a run that is killed leaves its completed cells; needs `-o` or `--inplace`'
            cand --help-notebook 'Print the notebook''s parameters (from its cell tagged `parameters`, as papermill infers them) and exit without running anything'
            cand --allow-errors 'Run every cell even after one fails; exit 1 at the end if any failed'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;exec'= {
            cand -P 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --policy 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --venv 'The virtualenv to use'
            cand -w 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --workdir 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --hide 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable'
            cand --ro 'Extra read-only mount (repeatable)'
            cand --rw 'Extra read-write mount (repeatable)'
            cand --network 'Network mode'
            cand --allow-host 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)'
            cand --deny-host 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)'
            cand --env 'Pass KEY from the host, or set KEY=VALUE (repeatable)'
            cand --timeout 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)'
            cand --cpu 'CPU-time limit (e.g. 30s)'
            cand --memory 'Memory limit (e.g. 512MiB, 2GiB)'
            cand --audit-log 'Append one JSON line describing the run to FILE (also `[audit] log`)'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --mkdir 'Create the working directory (one level) when it does not exist'
            cand --json 'Print one JSON result object on stdout instead of streaming'
            cand -q 'No report of boxpy''s own; only the program''s output'
            cand --quiet 'No report of boxpy''s own; only the program''s output'
            cand -v 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
            cand --verbose 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;render'= {
            cand -P 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --policy 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --venv 'The virtualenv to use'
            cand -w 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --workdir 'Read-write working directory, the program''s cwd [default: current directory]'
            cand --hide 'Make matching files read as empty, on top of the default credential list (repeatable; see `boxpy run --help`)'
            cand --ro 'Extra read-only mount (repeatable)'
            cand --rw 'Extra read-write mount (repeatable)'
            cand --network 'Network mode'
            cand --allow-host 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)'
            cand --deny-host 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)'
            cand --env 'Pass KEY from the host, or set KEY=VALUE (repeatable)'
            cand --timeout 'Wall-clock limit (e.g. 30s, 5m)'
            cand --cpu 'CPU-time limit (e.g. 30s)'
            cand --memory 'Memory limit (e.g. 512MiB, 2GiB)'
            cand --target 'Which sandbox to render'
            cand --seccomp-out 'Also write the compiled seccomp filter to FILE; the printed script opens it itself (`bash SCRIPT`), and without it needs `bash SCRIPT 5<FILE`'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --json 'Print the command (or the Seatbelt profile) as one JSON object'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;policy'= {
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the shipped policies and the policy files found for this directory'
            cand show 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML'
            cand check 'Validate a policy file (or a shipped policy) and warn about risky choices'
            cand trust 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again'
            cand init 'Write a commented `boxpy.toml` for the current project'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'boxpy;policy;list'= {
            cand -w 'Working directory to look in [default: current directory]'
            cand --workdir 'Working directory to look in [default: current directory]'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;policy;show'= {
            cand -P 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand --policy 'A shipped policy name (default, strict, net, pypi) or a policy file'
            cand -w 'Working directory (where the lookup starts; `filesystem.workdir`)'
            cand --workdir 'Working directory (where the lookup starts; `filesystem.workdir`)'
            cand --ro 'Extra read-only mount (repeatable)'
            cand --rw 'Extra read-write mount (repeatable)'
            cand --network 'Network mode'
            cand --allow-host 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)'
            cand --deny-host 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)'
            cand --timeout 'Wall-clock limit (e.g. 30s, 5m)'
            cand --cpu 'CPU-time limit (e.g. 30s)'
            cand --memory 'Memory limit (e.g. 512MiB, 2GiB)'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --json 'Print the policy as one JSON object'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;policy;check'= {
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;policy;trust'= {
            cand -w 'Working directory to look in, when no FILE is given [default: current directory]'
            cand --workdir 'Working directory to look in, when no FILE is given [default: current directory]'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --revoke 'Forget the file instead (a later run refuses it again if it widens the sandbox)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;policy;init'= {
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --force 'Overwrite an existing boxpy.toml'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;policy;help'= {
            cand list 'List the shipped policies and the policy files found for this directory'
            cand show 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML'
            cand check 'Validate a policy file (or a shipped policy) and warn about risky choices'
            cand trust 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again'
            cand init 'Write a commented `boxpy.toml` for the current project'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'boxpy;policy;help;list'= {
        }
        &'boxpy;policy;help;show'= {
        }
        &'boxpy;policy;help;check'= {
        }
        &'boxpy;policy;help;trust'= {
        }
        &'boxpy;policy;help;init'= {
        }
        &'boxpy;policy;help;help'= {
        }
        &'boxpy;cache'= {
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'List the cached entries: library, venv, key, size, and whether each is stale'
            cand clear 'Remove every entry, or one venv''s'
            cand prime 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'boxpy;cache;show'= {
            cand --venv 'Only this venv''s entries'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --json 'Print one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;cache;clear'= {
            cand --venv 'Only this venv''s entries'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --json 'Print one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;cache;prime'= {
            cand --venv 'The venv [default: the one `run` would use here]'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --json 'Print one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;cache;help'= {
            cand show 'List the cached entries: library, venv, key, size, and whether each is stale'
            cand clear 'Remove every entry, or one venv''s'
            cand prime 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'boxpy;cache;help;show'= {
        }
        &'boxpy;cache;help;clear'= {
        }
        &'boxpy;cache;help;prime'= {
        }
        &'boxpy;cache;help;help'= {
        }
        &'boxpy;doctor'= {
            cand --venv 'The venv to check (default: what `run` would use here)'
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand --json 'Print the checks as one JSON object'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;completions'= {
            cand --color 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'boxpy;help'= {
            cand run 'Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox'
            cand nbexec 'Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)'
            cand exec 'Run any program under the same policy (`boxpy exec -- sh` for a shell inside)'
            cand render 'Print the sandbox a policy becomes, as a bash script that runs it by hand; runs nothing'
            cand policy 'List, show, check or create policies'
            cand cache 'Show, clear or prime the per-venv library caches (matplotlib''s font list)'
            cand doctor 'Check whether this machine can sandbox, and how each limit is enforced'
            cand completions 'Generate shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'boxpy;help;run'= {
        }
        &'boxpy;help;nbexec'= {
        }
        &'boxpy;help;exec'= {
        }
        &'boxpy;help;render'= {
        }
        &'boxpy;help;policy'= {
            cand list 'List the shipped policies and the policy files found for this directory'
            cand show 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML'
            cand check 'Validate a policy file (or a shipped policy) and warn about risky choices'
            cand trust 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again'
            cand init 'Write a commented `boxpy.toml` for the current project'
        }
        &'boxpy;help;policy;list'= {
        }
        &'boxpy;help;policy;show'= {
        }
        &'boxpy;help;policy;check'= {
        }
        &'boxpy;help;policy;trust'= {
        }
        &'boxpy;help;policy;init'= {
        }
        &'boxpy;help;cache'= {
            cand show 'List the cached entries: library, venv, key, size, and whether each is stale'
            cand clear 'Remove every entry, or one venv''s'
            cand prime 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept'
        }
        &'boxpy;help;cache;show'= {
        }
        &'boxpy;help;cache;clear'= {
        }
        &'boxpy;help;cache;prime'= {
        }
        &'boxpy;help;doctor'= {
        }
        &'boxpy;help;completions'= {
        }
        &'boxpy;help;help'= {
        }
    ]
    $completions[$command]
}
