
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'boxpy' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'boxpy'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'boxpy' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox')
            [CompletionResult]::new('nbexec', 'nbexec', [CompletionResultType]::ParameterValue, 'Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run any program under the same policy (`boxpy exec -- sh` for a shell inside)')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Print the sandbox a policy becomes, as a bash script that runs it by hand; runs nothing')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'List, show, check or create policies')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Show, clear or prime the per-venv library caches (matplotlib''s font list)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check whether this machine can sandbox, and how each limit is enforced')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Generate shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'boxpy;run' {
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'The virtualenv to use')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--hide', '--hide', [CompletionResultType]::ParameterName, 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable')
            [CompletionResult]::new('--ro', '--ro', [CompletionResultType]::ParameterName, 'Extra read-only mount (repeatable)')
            [CompletionResult]::new('--rw', '--rw', [CompletionResultType]::ParameterName, 'Extra read-write mount (repeatable)')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Network mode')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)')
            [CompletionResult]::new('--deny-host', '--deny-host', [CompletionResultType]::ParameterName, 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Pass KEY from the host, or set KEY=VALUE (repeatable)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)')
            [CompletionResult]::new('--cpu', '--cpu', [CompletionResultType]::ParameterName, 'CPU-time limit (e.g. 30s)')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Memory limit (e.g. 512MiB, 2GiB)')
            [CompletionResult]::new('--audit-log', '--audit-log', [CompletionResultType]::ParameterName, 'Append one JSON line describing the run to FILE (also `[audit] log`)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Run a code string')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Run a module as a script')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--mkdir', '--mkdir', [CompletionResultType]::ParameterName, 'Create the working directory (one level) when it does not exist')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON result object on stdout instead of streaming')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No report of boxpy''s own; only the program''s output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No report of boxpy''s own; only the program''s output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;nbexec' {
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'The virtualenv to use')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--hide', '--hide', [CompletionResultType]::ParameterName, 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable')
            [CompletionResult]::new('--ro', '--ro', [CompletionResultType]::ParameterName, 'Extra read-only mount (repeatable)')
            [CompletionResult]::new('--rw', '--rw', [CompletionResultType]::ParameterName, 'Extra read-write mount (repeatable)')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Network mode')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)')
            [CompletionResult]::new('--deny-host', '--deny-host', [CompletionResultType]::ParameterName, 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Pass KEY from the host, or set KEY=VALUE (repeatable)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)')
            [CompletionResult]::new('--cpu', '--cpu', [CompletionResultType]::ParameterName, 'CPU-time limit (e.g. 30s)')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Memory limit (e.g. 512MiB, 2GiB)')
            [CompletionResult]::new('--audit-log', '--audit-log', [CompletionResultType]::ParameterName, 'Append one JSON line describing the run to FILE (also `[audit] log`)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the executed notebook to OUT (atomically; `-` for stdout)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the executed notebook to OUT (atomically; `-` for stdout)')
            [CompletionResult]::new('--autosave-cell-every', '--autosave-cell-every', [CompletionResultType]::ParameterName, 'With `--request-save-on-cell-execute`: save inside a long cell at most every SECS seconds, when it outputs (0: never) [default: 30]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'A parameter, VALUE read as papermill reads it: `True`, `False`, `None`; else an int as Python''s int() reads it (`007` is 7); else a float as float() reads it (`1e400` is inf, `nan`); else a Python literal (`[1, 2]`, `{''a'': 1}`, `''text''`); else the text itself')
            [CompletionResult]::new('--parameter', '--parameter', [CompletionResultType]::ParameterName, 'A parameter, VALUE read as papermill reads it: `True`, `False`, `None`; else an int as Python''s int() reads it (`007` is 7); else a float as float() reads it (`1e400` is inf, `nan`); else a Python literal (`[1, 2]`, `{''a'': 1}`, `''text''`); else the text itself')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'A parameter whose VALUE is always a string')
            [CompletionResult]::new('--parameter-raw', '--parameter-raw', [CompletionResultType]::ParameterName, 'A parameter whose VALUE is always a string')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Parameters from YAML text, a mapping (as papermill''s PyYAML reads it: `yes` is True, `1e3` a string, `1.0e+3` a float)')
            [CompletionResult]::new('--parameters-yaml', '--parameters-yaml', [CompletionResultType]::ParameterName, 'Parameters from YAML text, a mapping (as papermill''s PyYAML reads it: `yes` is True, `1e3` a string, `1.0e+3` a float)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Parameters from a YAML file, a mapping')
            [CompletionResult]::new('--parameters-file', '--parameters-file', [CompletionResultType]::ParameterName, 'Parameters from a YAML file, a mapping')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Parameters from base64-encoded YAML, a mapping')
            [CompletionResult]::new('--parameters-base64', '--parameters-base64', [CompletionResultType]::ParameterName, 'Parameters from base64-encoded YAML, a mapping')
            [CompletionResult]::new('--cell-timeout', '--cell-timeout', [CompletionResultType]::ParameterName, 'Limit for each cell (e.g. 60s); the policy''s `limits.timeout` bounds the whole run')
            [CompletionResult]::new('--kernel', '--kernel', [CompletionResultType]::ParameterName, 'The kernel to use (default: the notebook''s kernelspec, else python3)')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Run the kernel in DIR (for a notebook''s relative paths): as it is inside the workdir, else mounted read-only; never HOME or above it, `/`, a system or protected directory')
            [CompletionResult]::new('--max-notebook-size', '--max-notebook-size', [CompletionResultType]::ParameterName, 'The largest notebook boxpy reads (default 256MiB)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--mkdir', '--mkdir', [CompletionResultType]::ParameterName, 'Create the working directory (one level) when it does not exist')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON result object on stdout instead of streaming')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No report of boxpy''s own; only the program''s output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No report of boxpy''s own; only the program''s output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running')
            [CompletionResult]::new('--inplace', '--inplace', [CompletionResultType]::ParameterName, 'Overwrite NOTEBOOK with the executed notebook (atomically)')
            [CompletionResult]::new('--prepare-only', '--prepare-only', [CompletionResultType]::ParameterName, 'Inject the parameters and write the notebook (with papermill''s metadata, outputs cleared) without starting a kernel; needs `-o` or `--inplace`')
            [CompletionResult]::new('--log-output', '--log-output', [CompletionResultType]::ParameterName, 'Stream what each cell prints (and its text results) to stderr as it arrives')
            [CompletionResult]::new('--request-save-on-cell-execute', '--request-save-on-cell-execute', [CompletionResultType]::ParameterName, 'Save the notebook to OUT as each cell starts and ends (and every `--autosave-cell-every` seconds of a cell''s output), so a run that is killed leaves its completed cells; needs `-o` or `--inplace`')
            [CompletionResult]::new('--help-notebook', '--help-notebook', [CompletionResultType]::ParameterName, 'Print the notebook''s parameters (from its cell tagged `parameters`, as papermill infers them) and exit without running anything')
            [CompletionResult]::new('--allow-errors', '--allow-errors', [CompletionResultType]::ParameterName, 'Run every cell even after one fails; exit 1 at the end if any failed')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;exec' {
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'The virtualenv to use')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--hide', '--hide', [CompletionResultType]::ParameterName, 'Make matching files read as empty (directories as empty directories), on top of the default credential list: a name glob (`*.csv`), a path (`secrets/prod.yaml`), or `**/GLOB` for any depth; repeatable')
            [CompletionResult]::new('--ro', '--ro', [CompletionResultType]::ParameterName, 'Extra read-only mount (repeatable)')
            [CompletionResult]::new('--rw', '--rw', [CompletionResultType]::ParameterName, 'Extra read-write mount (repeatable)')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Network mode')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)')
            [CompletionResult]::new('--deny-host', '--deny-host', [CompletionResultType]::ParameterName, 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Pass KEY from the host, or set KEY=VALUE (repeatable)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit; the whole sandbox is killed (e.g. 30s, 5m)')
            [CompletionResult]::new('--cpu', '--cpu', [CompletionResultType]::ParameterName, 'CPU-time limit (e.g. 30s)')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Memory limit (e.g. 512MiB, 2GiB)')
            [CompletionResult]::new('--audit-log', '--audit-log', [CompletionResultType]::ParameterName, 'Append one JSON line describing the run to FILE (also `[audit] log`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--mkdir', '--mkdir', [CompletionResultType]::ParameterName, 'Create the working directory (one level) when it does not exist')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON result object on stdout instead of streaming')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No report of boxpy''s own; only the program''s output')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No report of boxpy''s own; only the program''s output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print which policy and venv were used and why, and the sandbox command line, to stderr before running')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;render' {
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'The virtualenv to use')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Read-write working directory, the program''s cwd [default: current directory]')
            [CompletionResult]::new('--hide', '--hide', [CompletionResultType]::ParameterName, 'Make matching files read as empty, on top of the default credential list (repeatable; see `boxpy run --help`)')
            [CompletionResult]::new('--ro', '--ro', [CompletionResultType]::ParameterName, 'Extra read-only mount (repeatable)')
            [CompletionResult]::new('--rw', '--rw', [CompletionResultType]::ParameterName, 'Extra read-write mount (repeatable)')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Network mode')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)')
            [CompletionResult]::new('--deny-host', '--deny-host', [CompletionResultType]::ParameterName, 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Pass KEY from the host, or set KEY=VALUE (repeatable)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit (e.g. 30s, 5m)')
            [CompletionResult]::new('--cpu', '--cpu', [CompletionResultType]::ParameterName, 'CPU-time limit (e.g. 30s)')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Memory limit (e.g. 512MiB, 2GiB)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Which sandbox to render')
            [CompletionResult]::new('--seccomp-out', '--seccomp-out', [CompletionResultType]::ParameterName, 'Also write the compiled seccomp filter to FILE; the printed script opens it itself (`bash SCRIPT`), and without it needs `bash SCRIPT 5<FILE`')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the command (or the Seatbelt profile) as one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;policy' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the shipped policies and the policy files found for this directory')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a policy file (or a shipped policy) and warn about risky choices')
            [CompletionResult]::new('trust', 'trust', [CompletionResultType]::ParameterValue, 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented `boxpy.toml` for the current project')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'boxpy;policy;list' {
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Working directory to look in [default: current directory]')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Working directory to look in [default: current directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;policy;show' {
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'A shipped policy name (default, strict, net, pypi) or a policy file')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Working directory (where the lookup starts; `filesystem.workdir`)')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Working directory (where the lookup starts; `filesystem.workdir`)')
            [CompletionResult]::new('--ro', '--ro', [CompletionResultType]::ParameterName, 'Extra read-only mount (repeatable)')
            [CompletionResult]::new('--rw', '--rw', [CompletionResultType]::ParameterName, 'Extra read-write mount (repeatable)')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Network mode')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Let the program reach HOST (`pypi.org`, `*.example.com`, an address; ports 80 and 443 unless `:PORT`) through boxpy''s proxy; implies `--network proxy` (repeatable)')
            [CompletionResult]::new('--deny-host', '--deny-host', [CompletionResultType]::ParameterName, 'Refuse HOST even where an allow rule names it (needs proxy mode; repeatable)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit (e.g. 30s, 5m)')
            [CompletionResult]::new('--cpu', '--cpu', [CompletionResultType]::ParameterName, 'CPU-time limit (e.g. 30s)')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Memory limit (e.g. 512MiB, 2GiB)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the policy as one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;policy;check' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;policy;trust' {
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Working directory to look in, when no FILE is given [default: current directory]')
            [CompletionResult]::new('--workdir', '--workdir', [CompletionResultType]::ParameterName, 'Working directory to look in, when no FILE is given [default: current directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--revoke', '--revoke', [CompletionResultType]::ParameterName, 'Forget the file instead (a later run refuses it again if it widens the sandbox)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;policy;init' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite an existing boxpy.toml')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;policy;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the shipped policies and the policy files found for this directory')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a policy file (or a shipped policy) and warn about risky choices')
            [CompletionResult]::new('trust', 'trust', [CompletionResultType]::ParameterValue, 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented `boxpy.toml` for the current project')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'boxpy;policy;help;list' {
            break
        }
        'boxpy;policy;help;show' {
            break
        }
        'boxpy;policy;help;check' {
            break
        }
        'boxpy;policy;help;trust' {
            break
        }
        'boxpy;policy;help;init' {
            break
        }
        'boxpy;policy;help;help' {
            break
        }
        'boxpy;cache' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'List the cached entries: library, venv, key, size, and whether each is stale')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove every entry, or one venv''s')
            [CompletionResult]::new('prime', 'prime', [CompletionResultType]::ParameterValue, 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'boxpy;cache;show' {
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'Only this venv''s entries')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;cache;clear' {
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'Only this venv''s entries')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;cache;prime' {
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'The venv [default: the one `run` would use here]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;cache;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'List the cached entries: library, venv, key, size, and whether each is stale')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove every entry, or one venv''s')
            [CompletionResult]::new('prime', 'prime', [CompletionResultType]::ParameterValue, 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'boxpy;cache;help;show' {
            break
        }
        'boxpy;cache;help;clear' {
            break
        }
        'boxpy;cache;help;prime' {
            break
        }
        'boxpy;cache;help;help' {
            break
        }
        'boxpy;doctor' {
            [CompletionResult]::new('--venv', '--venv', [CompletionResultType]::ParameterName, 'The venv to check (default: what `run` would use here)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the checks as one JSON object')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;completions' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour boxpy''s own output: `auto` honours `NO_COLOR` and whether the output is a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'boxpy;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a Python script, `-c CODE`, `-m MODULE` or `-` (stdin) in the sandbox')
            [CompletionResult]::new('nbexec', 'nbexec', [CompletionResultType]::ParameterValue, 'Execute a Jupyter notebook in the sandbox (nbclient + ipykernel from the venv)')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run any program under the same policy (`boxpy exec -- sh` for a shell inside)')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Print the sandbox a policy becomes, as a bash script that runs it by hand; runs nothing')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'List, show, check or create policies')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Show, clear or prime the per-venv library caches (matplotlib''s font list)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check whether this machine can sandbox, and how each limit is enforced')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Generate shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'boxpy;help;run' {
            break
        }
        'boxpy;help;nbexec' {
            break
        }
        'boxpy;help;exec' {
            break
        }
        'boxpy;help;render' {
            break
        }
        'boxpy;help;policy' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the shipped policies and the policy files found for this directory')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the fully resolved policy (after `extends`, lookup and flags) as TOML')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a policy file (or a shipped policy) and warn about risky choices')
            [CompletionResult]::new('trust', 'trust', [CompletionResultType]::ParameterValue, 'Trust a policy file found in a project (`boxpy.toml`, `pyproject.toml`) to widen the sandbox: records its path and content hash; any change needs trusting again')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented `boxpy.toml` for the current project')
            break
        }
        'boxpy;help;policy;list' {
            break
        }
        'boxpy;help;policy;show' {
            break
        }
        'boxpy;help;policy;check' {
            break
        }
        'boxpy;help;policy;trust' {
            break
        }
        'boxpy;help;policy;init' {
            break
        }
        'boxpy;help;cache' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'List the cached entries: library, venv, key, size, and whether each is stale')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove every entry, or one venv''s')
            [CompletionResult]::new('prime', 'prime', [CompletionResultType]::ParameterValue, 'Prime the caches of a venv now (for CI images), in a sandbox that can write nothing else; a fresh entry is kept')
            break
        }
        'boxpy;help;cache;show' {
            break
        }
        'boxpy;help;cache;clear' {
            break
        }
        'boxpy;help;cache;prime' {
            break
        }
        'boxpy;help;doctor' {
            break
        }
        'boxpy;help;completions' {
            break
        }
        'boxpy;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
