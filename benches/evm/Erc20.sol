// SPDX-License-Identifier: Apache-2.0
// A minimal ERC-20, the EVM counterpart of Keel's example token (contracts/examples/token):
// balances, allowances, transfer / approve / transferFrom with the standard events.
// Compiled by gen.sh (solcjs, optimizer on); the hex it produces is Erc20.bin-runtime.hex.
pragma solidity ^0.8.20;

contract Erc20 {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(uint256 supply) {
        balanceOf[msg.sender] = supply;
        totalSupply = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        uint256 b = balanceOf[msg.sender];
        require(b >= value, "insufficient balance");
        unchecked {
            balanceOf[msg.sender] = b - value;
        }
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 a = allowance[from][msg.sender];
        require(a >= value, "insufficient allowance");
        uint256 b = balanceOf[from];
        require(b >= value, "insufficient balance");
        unchecked {
            allowance[from][msg.sender] = a - value;
            balanceOf[from] = b - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        return true;
    }
}
