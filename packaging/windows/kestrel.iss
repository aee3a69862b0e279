; Inno Setup 6 script for Kestrel: a per-user (or all-users) installer of the PyInstaller
; folder dist\Kestrel, with a Start-menu entry, an optional desktop icon and an uninstaller.
;
; Built by packaging\windows\build.ps1, which passes the version read from app\__init__.py:
;   iscc /DAppVersion=<version> packaging\windows\kestrel.iss
; Output: dist\Kestrel-<version>-windows-x64-setup.exe
;
; The Start-menu entry starts kestrelw.exe (no console window); kestrel.exe beside it is the
; command-line program (kestrel chat, kestrel models, ...).

#ifndef AppVersion
  #error Pass /DAppVersion=<version> (build.ps1 reads it from app\__init__.py)
#endif
#define RootDir AddBackslash(SourcePath) + "..\.."
#ifndef SourceDir
  #define SourceDir RootDir + "\dist\Kestrel"
#endif
#ifndef OutputDir
  #define OutputDir RootDir + "\dist"
#endif

[Setup]
AppId={{56EA2B60-96EC-479A-829A-805F80237ACF}
AppName=Kestrel
AppVersion={#AppVersion}
AppVerName=Kestrel {#AppVersion}
AppPublisher=Kestrel
AppComments=Chat, summarize and translate with language models that run on this computer
DefaultDirName={autopf}\Kestrel
DefaultGroupName=Kestrel
DisableProgramGroupPage=yes
; Installs for the current user without administrator rights; the first page offers all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=Kestrel-{#AppVersion}-windows-x64-setup
SetupIconFile={#RootDir}\resources\icons\kestrel.ico
UninstallDisplayIcon={app}\kestrelw.exe
UninstallDisplayName=Kestrel {#AppVersion}
; The starter model (a quarter of the size) barely compresses; lzma2/normal keeps builds quick.
Compression=lzma2/normal
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; A previous version's bundle may hold libraries this one no longer ships.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\Kestrel"; Filename: "{app}\kestrelw.exe"; WorkingDir: "{app}"; IconFilename: "{app}\kestrelw.exe"; Comment: "Local AI assistant"
Name: "{autodesktop}\Kestrel"; Filename: "{app}\kestrelw.exe"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\kestrelw.exe"; Description: "{cm:LaunchProgram,Kestrel}"; Flags: nowait postinstall skipifsilent

; Chats, settings and downloaded models live in the user's AppData folders and are kept on
; uninstall (Kestrel never deletes what the user made).
