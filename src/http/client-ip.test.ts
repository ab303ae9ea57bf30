import { describe, expect, it } from "vitest";
import { addressFrom, peerAddress } from "./client-ip";

/** A request as a runtime hands it over: headers, and `cf` as workerd or Cloudflare fill it. */
function request(headers: Record<string, string>, cf?: Record<string, unknown>): Request {
  return Object.assign(new Request("http://api.test/", { headers }), cf ? { cf } : {});
}

const forged = {
  "CF-Connecting-IP": "198.51.100.66",
  "X-Forwarded-For": "10.0.0.1, 203.0.113.9",
  "X-Real-IP": "192.0.2.4",
};

describe("the client address by CLIENT_IP_SOURCE", () => {
  it("auto: the peer under standalone workerd, whatever headers a client sends", () => {
    expect(addressFrom("auto", request(forged, { clientIp: "127.0.0.1:51234" }))).toBe("127.0.0.1");
    expect(addressFrom("auto", request(forged, { clientIp: "[2001:db8::7]:443" }))).toBe("2001:db8::7");
  });

  it("auto: CF-Connecting-IP where request.cf shows Cloudflare in front, else nothing", () => {
    expect(addressFrom("auto", request(forged, { colo: "FRA", country: "DE" }))).toBe("198.51.100.66");
    expect(addressFrom("auto", request(forged))).toBeNull();
    expect(addressFrom("auto", request({}, { colo: "FRA" }))).toBeNull();
  });

  it("reads exactly the header it is told to, and the right-most X-Forwarded-For entry", () => {
    const req = request(forged, { clientIp: "127.0.0.1:1" });
    expect(addressFrom("cf-connecting-ip", req)).toBe("198.51.100.66");
    expect(addressFrom("x-forwarded-for", req)).toBe("203.0.113.9");
    expect(addressFrom("x-real-ip", req)).toBe("192.0.2.4");
    expect(addressFrom("peer", req)).toBe("127.0.0.1");
    expect(addressFrom("none", req)).toBeNull();
    expect(addressFrom("x-forwarded-for", request({ "X-Forwarded-For": "203.0.113.9" }))).toBe("203.0.113.9");
  });

  it("has no address when the header is missing or is not an address", () => {
    expect(addressFrom("x-real-ip", request({}))).toBeNull();
    expect(addressFrom("x-forwarded-for", request({ "X-Forwarded-For": "1.2.3.4, " }))).toBeNull();
    expect(addressFrom("cf-connecting-ip", request({ "CF-Connecting-IP": "a b" }))).toBeNull();
    expect(addressFrom("x-real-ip", request({ "X-Real-IP": "x".repeat(200) }))).toBeNull();
    expect(addressFrom("peer", request({}))).toBeNull();
  });

  it("reads workerd's peer in its forms", () => {
    expect(peerAddress(request({}, { clientIp: "203.0.113.5:8080" }))).toBe("203.0.113.5");
    expect(peerAddress(request({}, { clientIp: "[::1]:9" }))).toBe("::1");
    expect(peerAddress(request({}, { clientIp: "::1" }))).toBe("::1");
    expect(peerAddress(request({}, { clientIp: 7 }))).toBeNull();
  });
});
