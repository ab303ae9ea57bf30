import { describe, expect, it } from "vitest";
import { canSeeChannel, effectiveRole, isManager, isThreadParticipant, WORKSPACE_ROLES } from "./access";

describe("effectiveRole", () => {
  const OWNER = 1;

  it("makes the workspace's owner_id the owner, whatever their row says or lacks", () => {
    for (const stored of ["owner", "admin", "member", "guest", null]) {
      expect(effectiveRole(OWNER, OWNER, stored), String(stored)).toBe("owner");
    }
  });

  it("gives anyone else without a row no role", () => {
    expect(effectiveRole(OWNER, 2, null)).toBeNull();
  });

  it("reads a stored 'owner' on anyone but owner_id as admin (an adopted database can hold one)", () => {
    expect(effectiveRole(OWNER, 2, "owner")).toBe("admin");
    expect(effectiveRole(OWNER, 2, "admin")).toBe("admin");
  });

  it("reads a member, and any role it does not know, as member", () => {
    for (const stored of ["member", "guest", "", "ADMIN"]) {
      expect(effectiveRole(OWNER, 2, stored), stored).toBe("member");
    }
  });
});

describe("isManager", () => {
  it("is the owner and admins, not members or non-members", () => {
    expect(
      Object.fromEntries([...WORKSPACE_ROLES, null].map((role) => [String(role), isManager(role)])),
    ).toEqual({
      owner: true,
      admin: true,
      member: false,
      null: false,
    });
  });
});

describe("canSeeChannel", () => {
  it("lets every workspace member see a public channel, and only the channel's members a private one", () => {
    expect(canSeeChannel({ isPrivate: false }, false)).toBe(true);
    expect(canSeeChannel({ isPrivate: false }, true)).toBe(true);
    expect(canSeeChannel({ isPrivate: true }, true)).toBe(true);
    expect(canSeeChannel({ isPrivate: true }, false)).toBe(false);
  });
});

describe("isThreadParticipant", () => {
  it("is either of the thread's two users, and nobody else", () => {
    const thread = { user1Id: 3, user2Id: 8 };
    expect([3, 8, 5].map((id) => isThreadParticipant(thread, id))).toEqual([true, true, false]);
  });
});
